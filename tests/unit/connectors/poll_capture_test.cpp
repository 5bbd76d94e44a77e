#include "connectors/poll_capture.h"

#include <gtest/gtest.h>

namespace smsbridge::poll {
namespace {

TableSpec ordersSpec(std::vector<std::string> watch = {}) {
  TableSpec spec;
  spec.table = "orders";
  spec.change_column = "updated_at";
  spec.watch = std::move(watch);
  return spec;
}

PolledRow polled(std::int64_t id, std::string status, std::int64_t mark) {
  PolledRow p;
  p.row = Row{{"id", Value(id)}, {"status", Value(std::move(status))}, {"total", Value(9.5)}};
  p.mark = mark;
  return p;
}

const std::vector<std::string> kPk = {"id"};

TEST(PollCompareTest, UnseenRowIsAnInsertAfterTheBaseline) {
  RowChange c = compareWithShadow("shop", ordersSpec(), kPk, polled(7, "new", 100), std::nullopt,
                                  /*baseline=*/false);
  ASSERT_TRUE(c.event);
  EXPECT_EQ(c.event->op, Op::kInsert);
  EXPECT_EQ(c.event->pk, "7");
  EXPECT_FALSE(c.event->before);
  ASSERT_TRUE(c.shadow);
  EXPECT_EQ(c.shadow->pk, "7");
  EXPECT_EQ(c.shadow->state, R"({"id":7,"status":"new","total":9.5})");
}

TEST(PollCompareTest, BaselineRecordsWithoutAnEvent) {
  RowChange c = compareWithShadow("shop", ordersSpec(), kPk, polled(7, "new", 100), std::nullopt,
                                  /*baseline=*/true);
  EXPECT_FALSE(c.event);
  ASSERT_TRUE(c.shadow);
}

TEST(PollCompareTest, ChangedRowIsAnUpdateWithTheShadowAsBefore) {
  std::string old_state = shadowState(polled(7, "new", 100).row, {});
  RowChange c =
      compareWithShadow("shop", ordersSpec(), kPk, polled(7, "paid", 200), old_state, false);
  ASSERT_TRUE(c.event);
  EXPECT_EQ(c.event->op, Op::kUpdate);
  ASSERT_TRUE(c.event->before);
  EXPECT_EQ(*c.event->before->find("status"), Value("new"));
  EXPECT_EQ(*c.event->after->find("status"), Value("paid"));
  EXPECT_EQ(*c.event->before->find("total"), Value(9.5));
}

TEST(PollCompareTest, UnchangedRowMakesNothing) {
  std::string state = shadowState(polled(7, "new", 100).row, {});
  RowChange c = compareWithShadow("shop", ordersSpec(), kPk, polled(7, "new", 100), state, false);
  EXPECT_FALSE(c.event);
  EXPECT_FALSE(c.shadow);
}

TEST(PollCompareTest, OnlyWatchedColumnsCount) {
  TableSpec spec = ordersSpec({"status"});
  std::string state = shadowState(polled(7, "new", 100).row, spec.watch);
  EXPECT_EQ(state, R"({"status":"new"})");
  PolledRow touched = polled(7, "new", 300);
  touched.row.set("total", Value(12.0));
  EXPECT_FALSE(compareWithShadow("shop", spec, kPk, touched, state, false).event);
  RowChange c = compareWithShadow("shop", spec, kPk, polled(7, "paid", 300), state, false);
  ASSERT_TRUE(c.event);
  EXPECT_EQ(c.shadow->state, R"({"status":"paid"})");
}

TEST(PollCompareTest, EventPositionNamesTheChange) {
  std::string a = shadowState(polled(7, "new", 100).row, {});
  auto first = compareWithShadow("shop", ordersSpec(), kPk, polled(7, "paid", 200), a, false);
  auto replay = compareWithShadow("shop", ordersSpec(), kPk, polled(7, "paid", 200), a, false);
  auto later = compareWithShadow("shop", ordersSpec(), kPk, polled(7, "paid", 300), a, false);
  EXPECT_EQ(first.event->position, replay.event->position);
  EXPECT_NE(first.event->position, later.event->position);
  EXPECT_EQ(first.event->position.rfind("poll:200:", 0), 0u) << first.event->position;
}

TEST(PollCompareTest, CompositeKeysJoinWithBars) {
  Row row{{"order_id", Value(3)}, {"lang", Value("en")}};
  EXPECT_EQ(primaryKeyText(row, {"order_id", "lang"}), "3|en");
}

TEST(PollPositionTest, RoundTripsAndKeepsOnlyBaselinedTables) {
  Progress progress;
  progress["orders"] = TableProgress{true, 1732262400000000};
  progress["settings"] = TableProgress{true, std::nullopt};
  progress["pending"] = TableProgress{false, std::nullopt};
  std::string text = formatPosition(progress);
  EXPECT_EQ(text, R"({"poll":1,"tables":{"orders":{"mark":1732262400000000},"settings":{}}})");
  auto back = parsePosition(text);
  ASSERT_TRUE(back) << back.error().toString();
  EXPECT_EQ(back->size(), 2u);
  EXPECT_TRUE((*back)["orders"].baselined);
  EXPECT_EQ((*back)["orders"].mark, 1732262400000000);
  EXPECT_FALSE((*back)["settings"].mark);
}

TEST(PollPositionTest, RejectsForeignCheckpoints) {
  EXPECT_FALSE(parsePosition("1234"));  // a trigger-mode change id
  EXPECT_EQ(parsePosition("1234").error().category(), ErrorCategory::kSourceLost);
  EXPECT_TRUE(parsePosition(""));
}

TEST(PollPositionTest, LowerBoundSubtractsTheOverlap) {
  Settings settings;
  settings.overlap = std::chrono::minutes(5);
  settings.version_overlap = 50;
  TableSpec ts = ordersSpec();
  EXPECT_EQ(lowerBound(settings, ts, TableProgress{true, 1'000'000'000}),
            1'000'000'000 - 300'000'000);
  EXPECT_FALSE(lowerBound(settings, ts, TableProgress{false, std::nullopt}))
      << "the baseline reads the whole table";
  TableSpec version = ordersSpec();
  version.kind = ChangeKind::kVersion;
  EXPECT_EQ(lowerBound(settings, version, TableProgress{true, 500}), 450);
  TableSpec whole;
  whole.table = "settings";
  EXPECT_FALSE(lowerBound(settings, whole, TableProgress{true, 5}));
}

}  // namespace
}  // namespace smsbridge::poll
