// Mapping::readsBeforeImage(): what tells setup that a table needs full before images
// (PostgreSQL REPLICA IDENTITY FULL) for its mappings to work.

#include <gtest/gtest.h>

#include "core/mapping.h"

namespace smsbridge {
namespace {

Mapping compiled(std::string when, std::string text = "Order {{ id }}", std::string dedup = "") {
  MappingSpec spec;
  spec.name = "m";
  spec.source = "shop";
  spec.table = "orders";
  spec.on = {"update"};
  spec.when = std::move(when);
  spec.to = "{{ phone }}";
  spec.text = std::move(text);
  spec.dedup = std::move(dedup);
  MappingDefaults defaults;
  defaults.region = "PL";
  auto m = Mapping::compile(spec, defaults, [](std::string_view key, std::size_t, std::string msg) {
    ADD_FAILURE() << key << ": " << msg;
  });
  EXPECT_TRUE(m.has_value());
  return std::move(*m);
}

TEST(MappingBeforeImageTest, OldValuesInAnyPartCount) {
  EXPECT_TRUE(compiled("status == 'shipped' and old.status != 'shipped'").readsBeforeImage());
  EXPECT_TRUE(compiled("changed(status)").readsBeforeImage());
  EXPECT_TRUE(compiled("crossed_below(stock, 5)").readsBeforeImage());
  EXPECT_TRUE(compiled("", "Was {{ old.status }}, now {{ status }}").readsBeforeImage());
  EXPECT_TRUE(compiled("", "Order {{ id }}", "{{ id }}:{{ old.status }}").readsBeforeImage());
}

TEST(MappingBeforeImageTest, CurrentValuesOnlyDoNot) {
  EXPECT_FALSE(compiled("status == 'shipped'").readsBeforeImage());
  EXPECT_FALSE(compiled("").readsBeforeImage());
  EXPECT_FALSE(compiled("", "Order {{ id }}", "{{ id }}:{{ status }}").readsBeforeImage());
}

}  // namespace
}  // namespace smsbridge
