// Which columns doctor expects of a table, derived from the compiled mappings.

#include "connectors/doctor.h"

#include <gtest/gtest.h>

#include "core/mapping.h"

namespace smsbridge {
namespace {

Mapping compiled(MappingSpec spec) {
  MappingDefaults defaults;
  defaults.region = "PL";
  auto m =
      Mapping::compile(spec, defaults, [](std::string_view key, std::size_t, std::string message) {
        ADD_FAILURE() << key << ": " << message;
      });
  if (!m) throw std::runtime_error("mapping did not compile");
  return std::move(*m);
}

TEST(DoctorTest, TableNeedsNameColumnsAndBeforeImageColumns) {
  MappingSpec shipped;
  shipped.name = "shipped";
  shipped.source = "shop";
  shipped.table = "orders";
  shipped.on = {"update"};
  shipped.when = "status == 'shipped' and changed(status) and crossed_below(total, 5)";
  shipped.to = "{{ phone }}";
  shipped.text = "Order {{ new.number }}";
  MappingSpec created = shipped;
  created.name = "created";
  created.on = {"insert"};
  created.when = "old.note == ''";  // no before-image on insert: not a requirement
  created.text = "New";
  MappingSpec other = shipped;
  other.name = "other";
  other.source = "crm";
  other.when = "old.secret != ''";
  MappingEngine engine({compiled(shipped), compiled(created), compiled(other)});

  auto needs = tableNeeds(engine, "shop", {"orders", "products"});
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[0].columns,
            (std::set<std::string>{"status", "total", "phone", "number", "note"}));
  EXPECT_EQ(needs[0].old_columns, (std::set<std::string>{"status", "total"}));
  EXPECT_TRUE(needs[1].columns.empty());
  EXPECT_EQ(needs[0].readers["status"], (std::set<std::string>{"mappings.shipped.when"}));
  EXPECT_EQ(needs[0].readers["note"], (std::set<std::string>{"mappings.created.when"}));
  EXPECT_EQ(needs[0].readers["number"], (std::set<std::string>{"mappings.shipped.text"}))
      << "new.<col> is the table's column";
}

TEST(DoctorTest, AMissingColumnNamesTheMappingAndKeyThatReadIt) {
  MappingSpec shipped;
  shipped.name = "shipped";
  shipped.source = "shop";
  shipped.table = "orders";
  shipped.when = "stauts == 'shipped'";
  shipped.to = "{{ billing.phone }}";
  shipped.text = "Order {{ id }}";
  shipped.lookups = {
      {"billing", "SELECT phone FROM addresses WHERE order_id = :order_id", "", false}};
  MappingEngine engine({compiled(shipped)});
  auto needs = tableNeeds(engine, "shop", {"orders"});
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_EQ(needs[0].columns, (std::set<std::string>{"stauts", "id", "order_id"}))
      << "lookup parameters are the table's columns; the lookup's own columns are not";
  DoctorCheck check = tableColumnsCheck(needs[0], std::set<std::string>{"id", "status"});
  EXPECT_EQ(check.level, CheckLevel::kFail);
  EXPECT_EQ(check.found,
            "mappings read column(s) the table does not have: order_id (read by "
            "mappings.shipped.lookup.billing), stauts (read by mappings.shipped.when)");
}

}  // namespace
}  // namespace smsbridge
