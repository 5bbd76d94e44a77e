#include "core/mapping.h"

#include <set>

#include <gtest/gtest.h>

#include "core/clock.h"

namespace smsbridge {
namespace {

struct Reported {
  std::string key;
  std::size_t offset;
  std::string message;
};

MappingSpec shippedSpec() {
  MappingSpec spec;
  spec.name = "order_shipped";
  spec.source = "shop";
  spec.table = "orders";
  spec.on = {"update"};
  spec.when = "status == 'shipped' and old.status != 'shipped'";
  spec.to = "{{ phone }}";
  spec.region = "{{ country }}";
  spec.text = "Hi {{ name }}, order {{ id }} shipped.";
  return spec;
}

MappingDefaults defaults() {
  MappingDefaults d;
  d.region = "PL";
  d.sender = "Shop";
  return d;
}

Mapping compileOk(const MappingSpec& spec) {
  std::vector<Reported> reported;
  auto m =
      Mapping::compile(spec, defaults(), [&](std::string_view k, std::size_t o, std::string msg) {
        reported.push_back({std::string(k), o, msg});
      });
  EXPECT_TRUE(m.has_value());
  for (auto& r : reported) ADD_FAILURE() << r.key << "@" << r.offset << ": " << r.message;
  return std::move(*m);
}

ChangeEvent shipped(Row after_overrides = {}) {
  ChangeEvent e;
  e.source = "shop";
  e.table = "orders";
  e.op = Op::kUpdate;
  e.pk = "17";
  e.position = "42";
  e.before = Row{{"id", 17},
                 {"status", "processing"},
                 {"phone", "600 700 800"},
                 {"country", "PL"},
                 {"name", "Anna"}};
  e.after = Row{{"id", 17},
                {"status", "shipped"},
                {"phone", "600 700 800"},
                {"country", "PL"},
                {"name", "Anna"}};
  for (auto& [k, v] : after_overrides) e.after->set(k, v);
  return e;
}

TEST(MappingTest, FiresOnTheTransitionAndBuildsAQueuedJob) {
  Mapping m = compileOk(shippedSpec());
  ChangeEvent e = shipped();
  ASSERT_TRUE(m.matches(e));
  ManualClock clock;
  auto job = m.apply(e, clock.now());
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->status, JobStatus::kQueued);
  EXPECT_EQ(job->recipient, "+48600700800");
  EXPECT_EQ(job->recipient_raw, "600 700 800");
  EXPECT_EQ(job->body, "Hi Anna, order 17 shipped.");
  EXPECT_EQ(job->segments, 1);
  EXPECT_EQ(job->encoding, Encoding::kGsm7);
  EXPECT_EQ(job->sender, "Shop");
  EXPECT_EQ(job->entity_id, "17");
  EXPECT_EQ(job->route, "default");
  EXPECT_EQ(job->lane, Lane::kTransactional);
  EXPECT_EQ(job->dedup_key,
            "order_shipped|shop|orders|17|status='shipped'|old.status='processing'");
}

// Without `dedup`, the key is (mapping, source, table, pk, values `when` reads): a replay of
// the change, or the same transition captured again at another position, makes no second job.
TEST(MappingTest, DefaultDedupKeyIsTheRowAndTheValuesWhenReads) {
  Mapping m = compileOk(shippedSpec());
  ChangeEvent e = shipped();
  const std::string key = m.apply(e, {})->dedup_key;
  EXPECT_EQ(m.apply(e, {})->dedup_key, key);
  ChangeEvent elsewhere = e;
  elsewhere.position = "43";
  elsewhere.after->set("name", "Anna Maria");  // not read by `when`
  EXPECT_EQ(m.apply(elsewhere, {})->dedup_key, key);

  ChangeEvent from_pending = e;
  from_pending.before->set("status", "pending");
  EXPECT_NE(m.apply(from_pending, {})->dedup_key, key);
  ChangeEvent other_row = e;
  other_row.pk = "18";
  EXPECT_NE(m.apply(other_row, {})->dedup_key, key);
  MappingSpec renamed = shippedSpec();
  renamed.name = "order_shipped_again";
  EXPECT_NE(compileOk(renamed).apply(e, {})->dedup_key, key);
}

TEST(MappingTest, DefaultDedupKeyQuotesValuesAndNamesNullAndAbsentFields) {
  MappingSpec spec = shippedSpec();
  spec.when = "coalesce(note, 'x') != '' and tag is null and changed(status)";
  Mapping m = compileOk(spec);
  ChangeEvent e = shipped();
  e.after->set("note", "a|b='c'");
  e.after->set("tag", Value());
  e.before->set("note", "a|b='c'");
  auto job = m.apply(e, {});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->dedup_key,
            "order_shipped|shop|orders|17|note='a|b=''c'''|tag=null|status='shipped'"
            "|old.status='processing'");
  // A number and the same number as text are one key: capture modes differ in how they send it.
  spec.when = "stock < 5";
  Mapping stock = compileOk(spec);
  e.after->set("stock", 3);
  const std::string as_number = stock.apply(e, {})->dedup_key;
  e.after->set("stock", "3");
  EXPECT_EQ(stock.apply(e, {})->dedup_key, as_number);
  EXPECT_EQ(as_number, "order_shipped|shop|orders|17|stock='3'");
}

TEST(MappingTest, DefaultDedupKeyDigestsLongValuesSoItStaysIndexable) {
  MappingSpec spec = shippedSpec();
  spec.when = "note != ''";
  Mapping m = compileOk(spec);
  ChangeEvent e = shipped();
  e.after->set("note", std::string(300, 'x'));
  const std::string key = m.apply(e, {})->dedup_key;
  EXPECT_EQ(key.rfind("order_shipped|shop|orders|17|when#", 0), 0u) << key;
  EXPECT_LT(key.size(), 64u);
  EXPECT_EQ(m.apply(e, {})->dedup_key, key);
  e.after->set("note", std::string(299, 'x'));
  EXPECT_NE(m.apply(e, {})->dedup_key, key);
}

TEST(MappingTest, DefaultDedupKeyWithoutWhenIsOnePerRow) {
  MappingSpec spec = shippedSpec();
  spec.when = "";
  Mapping m = compileOk(spec);
  EXPECT_EQ(m.apply(shipped(), {})->dedup_key, "order_shipped|shop|orders|17");
}

TEST(MappingTest, DoesNotFireWhenStatusWasAlreadyShipped) {
  Mapping m = compileOk(shippedSpec());
  ChangeEvent e = shipped();
  e.before->set("status", "shipped");
  EXPECT_FALSE(m.apply(e, {}).has_value());
}

TEST(MappingTest, MatchesOnlyItsTableAndOperations) {
  Mapping m = compileOk(shippedSpec());
  ChangeEvent e = shipped();
  e.op = Op::kInsert;
  EXPECT_FALSE(m.matches(e));
  e = shipped();
  e.table = "products";
  EXPECT_FALSE(m.matches(e));
  e = shipped();
  e.source = "other";
  EXPECT_FALSE(m.matches(e));
}

TEST(MappingTest, MissingPhoneIsSuppressedWithReason) {
  Mapping m = compileOk(shippedSpec());
  auto job = m.apply(shipped(Row{{"phone", ""}}), {});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->status, JobStatus::kSuppressed);
  EXPECT_EQ(job->status_reason.rfind("missing", 0), 0u) << job->status_reason;
  EXPECT_TRUE(job->recipient.empty());

  auto null_phone = m.apply(shipped(Row{{"phone", Value()}}), {});
  EXPECT_EQ(null_phone->status, JobStatus::kSuppressed);
  EXPECT_EQ(null_phone->status_reason.rfind("missing", 0), 0u);
}

TEST(MappingTest, InvalidAndLandlineNumbersAreSuppressed) {
  Mapping m = compileOk(shippedSpec());
  auto invalid = m.apply(shipped(Row{{"phone", "123"}}), {});
  EXPECT_EQ(invalid->status, JobStatus::kSuppressed);
  EXPECT_EQ(invalid->status_reason.rfind("invalid", 0), 0u) << invalid->status_reason;
  EXPECT_EQ(invalid->recipient_raw, "123");

  auto landline = m.apply(shipped(Row{{"phone", "22 123 45 67"}}), {});
  EXPECT_EQ(landline->status, JobStatus::kSuppressed);
  EXPECT_EQ(landline->status_reason.rfind("not_mobile", 0), 0u) << landline->status_reason;
}

TEST(MappingTest, RegionComesFromTheRecordThenTheDefault) {
  Mapping m = compileOk(shippedSpec());
  auto de = m.apply(shipped(Row{{"phone", "0151 23456789"}, {"country", "DE"}}), {});
  EXPECT_EQ(de->recipient, "+4915123456789");
  auto fallback = m.apply(shipped(Row{{"country", ""}}), {});
  EXPECT_EQ(fallback->recipient, "+48600700800") << "empty country falls back to defaults";
}

TEST(MappingTest, MissingTemplateFieldRejectsNamingIt) {
  MappingSpec spec = shippedSpec();
  spec.text = "Hi {{ first_name }}";
  Mapping m = compileOk(spec);
  auto job = m.apply(shipped(), {});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->status, JobStatus::kRejected);
  EXPECT_NE(job->status_reason.find("first_name"), std::string::npos) << job->status_reason;
}

TEST(MappingTest, CustomDedupTemplate) {
  MappingSpec spec = shippedSpec();
  spec.dedup = "order:{{ id }}:{{ status }}";
  Mapping m = compileOk(spec);
  EXPECT_EQ(m.apply(shipped(), {})->dedup_key, "order_shipped|order:17:shipped");
}

// change.position tells apart two changes with the same values (a stock alert that fired,
// re-armed and fires again through the same numbers), while a replay of one keeps its key.
TEST(MappingTest, DedupMayReadTheChangesPosition) {
  MappingSpec spec = shippedSpec();
  spec.dedup = "order:{{ id }}:{{ change.position }}";
  Mapping m = compileOk(spec);
  ChangeEvent e = shipped();
  EXPECT_EQ(m.apply(e, {})->dedup_key, "order_shipped|order:17:42");
  EXPECT_EQ(m.apply(e, {})->dedup_key, "order_shipped|order:17:42");
  e.position = "43";
  EXPECT_EQ(m.apply(e, {})->dedup_key, "order_shipped|order:17:43");

  spec.dedup = "order:{{ change.txid }}";
  EXPECT_FALSE(Mapping::compile(spec, defaults(), [](auto, auto, auto) {}).has_value());
}

TEST(MappingTest, UnicodeTextCountsUcs2Segments) {
  MappingSpec spec = shippedSpec();
  spec.text =
      "Cześć {{ name }}, zamówienie {{ id }} zostało wysłane. Dziękujemy za zakupy w "
      "naszym sklepie!";
  Mapping m = compileOk(spec);
  auto job = m.apply(shipped(), {});
  EXPECT_EQ(job->encoding, Encoding::kUcs2);
  EXPECT_EQ(job->segments, 2);
}

TEST(MappingTest, CompileReportsEveryProblemWithItsKeyAndOffset) {
  MappingSpec spec = shippedSpec();
  spec.when = "status == ";
  spec.text = "Hi {{ name | shout }}";
  spec.lane = "urgent";
  spec.on = {"update", "upsert"};
  std::vector<Reported> reported;
  auto m =
      Mapping::compile(spec, defaults(), [&](std::string_view k, std::size_t o, std::string msg) {
        reported.push_back({std::string(k), o, msg});
      });
  EXPECT_FALSE(m.has_value());
  std::set<std::string> keys;
  for (auto& r : reported) keys.insert(r.key);
  EXPECT_EQ(keys, (std::set<std::string>{"when", "text", "lane", "on"}));
  for (auto& r : reported) {
    if (r.key == "text") {
      EXPECT_EQ(r.offset, 13u) << r.message;  // at 'shout'
    }
  }
}

TEST(MappingTest, BadSenderIsACompileError) {
  MappingSpec spec = shippedSpec();
  spec.sender = "ThisSenderIsTooLong";
  std::vector<Reported> reported;
  auto m =
      Mapping::compile(spec, defaults(), [&](std::string_view k, std::size_t o, std::string msg) {
        reported.push_back({std::string(k), o, msg});
      });
  EXPECT_FALSE(m.has_value());
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].key, "sender");
}

TEST(MappingEngineTest, MapsEveryFiringMappingInEventOrder) {
  MappingSpec other = shippedSpec();
  other.name = "any_update";
  other.when = "";
  other.dedup = "";
  MappingEngine engine({compileOk(shippedSpec()), compileOk(other)});
  std::vector<ChangeEvent> events = {shipped(), shipped()};
  events[1].before->set("status", "shipped");
  events[1].position = "43";
  auto jobs = engine.map(events, {});
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].mapping, "order_shipped");
  EXPECT_EQ(jobs[1].mapping, "any_update");
  EXPECT_EQ(jobs[2].mapping, "any_update");
  EXPECT_EQ(engine.tablesOf("shop"), std::vector<std::string>{"orders"});
}

}  // namespace
}  // namespace smsbridge
