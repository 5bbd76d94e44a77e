// `lookup:` in mappings: parameters bound from the changed row, results read as
// <name>.<column>, one query per lookup per batch and parameters, and what happens when a
// lookup finds nothing or cannot run.

#include <map>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/mapping.h"

namespace smsbridge {
namespace {

// Canned rows per SQL text; records every call.
class FakeLookups final : public LookupRunner {
 public:
  struct Call {
    std::string source;
    std::string sql;
    Row params;
  };

  Result<std::optional<Row>> firstRow(const std::string& source, const std::string& sql,
                                      const Row& params) override {
    calls.push_back({source, sql, params});
    if (!fail_with.isOk()) return fail_with;
    auto it = rows.find(sql);
    if (it == rows.end()) return std::optional<Row>();
    return std::optional<Row>(it->second);
  }

  std::map<std::string, Row> rows;
  Status fail_with;
  std::vector<Call> calls;
};

const std::string kBilling =
    "SELECT phone, country, first_name FROM addresses WHERE order_id = :id AND type = 'billing'";

MappingSpec shippedSpec() {
  MappingSpec spec;
  spec.name = "order_shipped";
  spec.source = "shop";
  spec.table = "orders";
  spec.on = {"update"};
  spec.when = "status == 'shipped'";
  spec.to = "{{ billing.phone }}";
  spec.region = "{{ billing.country | default('PL') }}";
  spec.text = "Hi {{ billing.first_name | default('there') }}, order {{ id }} shipped.";
  spec.lookups = {{"billing", kBilling, "", false}};
  return spec;
}

struct Compiled {
  std::optional<Mapping> mapping;
  std::vector<std::string> problems;  // "key@offset: message"
};

Compiled compile(const MappingSpec& spec) {
  Compiled out;
  MappingDefaults defaults;
  defaults.region = "PL";
  out.mapping =
      Mapping::compile(spec, defaults, [&](std::string_view k, std::size_t o, std::string msg) {
        out.problems.push_back(std::string(k) + "@" + std::to_string(o) + ": " + msg);
      });
  return out;
}

Mapping compileOk(const MappingSpec& spec) {
  Compiled c = compile(spec);
  for (const auto& p : c.problems) ADD_FAILURE() << p;
  EXPECT_TRUE(c.mapping.has_value());
  return std::move(*c.mapping);
}

ChangeEvent shipped(int id, std::string position = "1") {
  ChangeEvent e;
  e.source = "shop";
  e.table = "orders";
  e.op = Op::kUpdate;
  e.pk = std::to_string(id);
  e.position = std::move(position);
  e.before = Row{{"id", id}, {"status", "processing"}};
  e.after = Row{{"id", id}, {"status", "shipped"}};
  return e;
}

TEST(MappingLookupTest, BindsParametersFromTheRowAndRendersTheLookupsColumns) {
  Mapping m = compileOk(shippedSpec());
  FakeLookups lookups;
  lookups.rows[kBilling] =
      Row{{"phone", "0151 23456789"}, {"country", "DE"}, {"first_name", "Jürgen"}};
  auto job = m.apply(shipped(17), ManualClock().now(), lookups);
  ASSERT_TRUE(job) << job.error().toString();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->status, JobStatus::kQueued) << (*job)->status_reason;
  EXPECT_EQ((*job)->recipient, "+4915123456789") << "region from the lookup";
  EXPECT_EQ((*job)->body, "Hi Jürgen, order 17 shipped.");
  ASSERT_EQ(lookups.calls.size(), 1u);
  EXPECT_EQ(lookups.calls[0].source, "shop");
  EXPECT_EQ(lookups.calls[0].params, (Row{{"id", 17}})) << "only what the SQL names, typed";
}

TEST(MappingLookupTest, NoRowSuppressesTheJobWithLookupEmpty) {
  Mapping m = compileOk(shippedSpec());
  FakeLookups lookups;
  auto job = m.apply(shipped(17), ManualClock().now(), lookups);
  ASSERT_TRUE(job) << job.error().toString();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->status, JobStatus::kSuppressed);
  EXPECT_EQ((*job)->status_reason.rfind("lookup_empty: billing", 0), 0u) << (*job)->status_reason;
  EXPECT_TRUE((*job)->body.empty()) << "nothing rendered from missing data";
}

TEST(MappingLookupTest, AnOptionalLookupWithoutARowReadsAsNull) {
  MappingSpec spec = shippedSpec();
  spec.to = "{{ phone }}";
  spec.lookups = {{"billing", kBilling, "", true}};
  Mapping m = compileOk(spec);
  FakeLookups lookups;
  ChangeEvent e = shipped(17);
  e.after->set("phone", "600 700 800");
  auto job = m.apply(e, ManualClock().now(), lookups);
  ASSERT_TRUE(job) << job.error().toString();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->status, JobStatus::kQueued) << (*job)->status_reason;
  EXPECT_EQ((*job)->body, "Hi there, order 17 shipped.");
  EXPECT_EQ((*job)->recipient, "+48600700800") << "default('PL') applied to the null country";
}

TEST(MappingLookupTest, ATransientFailureFailsTheWholeBatchSoItIsRetried) {
  MappingEngine engine({compileOk(shippedSpec())});
  FakeLookups lookups;
  lookups.fail_with = transientError("PostgreSQL at db:5432 is unreachable");
  std::vector<ChangeEvent> events = {shipped(17), shipped(18)};
  auto jobs = engine.map(events, ManualClock().now(), lookups);
  ASSERT_FALSE(jobs);
  EXPECT_EQ(jobs.error().category(), ErrorCategory::kTransient);
  EXPECT_NE(jobs.error().message().find("lookup 'billing'"), std::string::npos)
      << jobs.error().message();

  lookups.fail_with = configError("column \"phnoe\" does not exist");
  jobs = engine.map(events, ManualClock().now(), lookups);
  ASSERT_FALSE(jobs);
  EXPECT_EQ(jobs.error().category(), ErrorCategory::kConfig) << "the operator must fix the SQL";
}

TEST(MappingLookupTest, AValueTheStatementCannotUseRejectsOnlyThatJob) {
  MappingEngine engine({compileOk(shippedSpec())});
  FakeLookups lookups;
  lookups.fail_with = rejectedError("invalid input syntax for type bigint: \"abc\"");
  std::vector<ChangeEvent> events = {shipped(17)};
  auto jobs = engine.map(events, ManualClock().now(), lookups);
  ASSERT_TRUE(jobs) << jobs.error().toString();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].status, JobStatus::kRejected);
  EXPECT_NE((*jobs)[0].status_reason.find("lookup billing: invalid input"), std::string::npos)
      << (*jobs)[0].status_reason;
}

TEST(MappingLookupTest, ABatchQueriesEachOrderOnce) {
  MappingEngine engine({compileOk(shippedSpec())});
  FakeLookups lookups;
  lookups.rows[kBilling] = Row{{"phone", "600 700 800"}, {"country", "PL"}};
  std::vector<ChangeEvent> events;
  for (int i = 0; i < 50; ++i) events.push_back(shipped(17, std::to_string(i)));
  events.push_back(shipped(18, "50"));
  auto jobs = engine.map(events, ManualClock().now(), lookups);
  ASSERT_TRUE(jobs) << jobs.error().toString();
  EXPECT_EQ(jobs->size(), 51u);
  EXPECT_EQ(lookups.calls.size(), 2u) << "order 17 once, order 18 once";

  // The cache lives for one batch: the next one sees the database as it is then.
  events.resize(1);
  ASSERT_TRUE(engine.map(events, ManualClock().now(), lookups));
  EXPECT_EQ(lookups.calls.size(), 3u);
}

TEST(MappingLookupTest, LookupsRunOnlyOnceWhenIsTrueUnlessWhenReadsThem) {
  Mapping m = compileOk(shippedSpec());
  FakeLookups lookups;
  ChangeEvent unshipped = shipped(17);
  unshipped.after->set("status", "processing");
  auto none = m.apply(unshipped, ManualClock().now(), lookups);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(lookups.calls.empty()) << "no query for a change that does not fire";

  MappingSpec spec = shippedSpec();
  spec.when = "status == 'shipped' and billing.country != 'DE'";
  Mapping reads = compileOk(spec);
  lookups.rows[kBilling] = Row{{"phone", "0151 23456789"}, {"country", "DE"}};
  auto skipped = reads.apply(shipped(17), ManualClock().now(), lookups);
  ASSERT_TRUE(skipped);
  EXPECT_FALSE(skipped->has_value()) << "`when` read the lookup's country";
  EXPECT_EQ(lookups.calls.size(), 1u);
}

TEST(MappingLookupTest, AParameterTheRowLacksRejectsTheJob) {
  MappingSpec spec = shippedSpec();
  spec.lookups[0].sql = "SELECT phone FROM customers WHERE id = :customer_id";
  spec.text = "Order {{ id }} shipped.";
  spec.region = "";
  Mapping m = compileOk(spec);
  FakeLookups lookups;
  auto job = m.apply(shipped(17), ManualClock().now(), lookups);
  ASSERT_TRUE(job) << job.error().toString();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->status, JobStatus::kRejected);
  EXPECT_NE((*job)->status_reason.find(":customer_id has no value"), std::string::npos)
      << (*job)->status_reason;
  EXPECT_TRUE(lookups.calls.empty());
  auto fields = m.referencedFields();
  EXPECT_NE(std::find(fields.begin(), fields.end(), "customer_id"), fields.end())
      << "doctor checks lookup parameters as columns of the table";
}

TEST(MappingLookupTest, AnotherSourceCanBeNamed) {
  MappingSpec spec = shippedSpec();
  spec.lookups[0].source = "crm";
  Mapping m = compileOk(spec);
  FakeLookups lookups;
  ASSERT_TRUE(m.apply(shipped(17), ManualClock().now(), lookups));
  ASSERT_EQ(lookups.calls.size(), 1u);
  EXPECT_EQ(lookups.calls[0].source, "crm");
}

TEST(MappingLookupTest, CompileRejectsBadNamesWritesAndUnknownLookups) {
  MappingSpec spec = shippedSpec();
  spec.lookups = {{"old", "SELECT 1", "", false},
                  {"cleanup", "DELETE FROM carts WHERE id = :id", "", false}};
  spec.text = "Hi {{ biling.first_name }}";
  Compiled c = compile(spec);
  EXPECT_FALSE(c.mapping.has_value());
  auto has = [&](const std::string& text) {
    return std::any_of(c.problems.begin(), c.problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("lookup.old@0: lookup name 'old'")) << ::testing::PrintToString(c.problems);
  EXPECT_TRUE(has("lookup.cleanup@0: a lookup is a query")) << ::testing::PrintToString(c.problems);
  EXPECT_TRUE(has("text@0: 'biling.first_name' reads lookup 'biling'"))
      << ::testing::PrintToString(c.problems);
}

TEST(MappingLookupTest, WithoutARunnerAMappingWithLookupsRejectsRatherThanGuesses) {
  Mapping m = compileOk(shippedSpec());
  auto job = m.apply(shipped(17), ManualClock().now());
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->status, JobStatus::kRejected);
  EXPECT_NE(job->status_reason.find("no database access"), std::string::npos);
}

}  // namespace
}  // namespace smsbridge
