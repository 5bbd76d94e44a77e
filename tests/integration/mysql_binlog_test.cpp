// MysqlBinlogSource against the real MariaDB of scripts/test-services.sh (log_bin,
// binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL): changes arrive as whole
// transactions in commit order with before images, positions resume exactly after a
// checkpoint, unrelated traffic still moves the position, and a killed dump connection or a
// rotated binlog loses nothing. Every test uses its own random table names.
//
// Waiting for the reader is bounded by a generous deadline so a broken source fails instead of
// hanging; no test asserts how fast anything happens.

#include "connectors/mysql/mysql_binlog_source.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/mysql_fixture.h"

namespace smsbridge::mysql {
namespace {

using std::chrono::milliseconds;

class MysqlBinlogTest : public testing::MysqlTableTest {
 protected:
  MysqlBinlogTest() : MysqlTableTest("sbb") {}

  std::unique_ptr<MysqlBinlogSource> source(std::vector<std::string> tables) {
    BinlogSourceConfig config;
    config.name = "shop";
    config.connection = options_;
    config.tables = std::move(tables);
    config.server_id =
        3'000'000'000u + static_cast<std::uint32_t>(std::random_device{}() % 1000000);
    config.heartbeat_interval = std::chrono::seconds(1);
    auto src = MysqlBinlogSource::create(std::move(config));
    EXPECT_TRUE(src) << src.error().toString();
    return src ? std::move(*src) : nullptr;
  }

  // Polls until `count` change events arrived, or the deadline passes. Batches that only move
  // the position are left out. poll() may hand out several transactions in one batch; each
  // event's position is that of its own transaction's end.
  std::vector<ChangeBatch> collect(Source& src, std::size_t count) {
    std::vector<ChangeBatch> batches;
    std::size_t events = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (events < count && std::chrono::steady_clock::now() < deadline) {
      auto batch = src.poll(milliseconds(200));
      if (!batch) {
        ADD_FAILURE() << batch.error().toString();
        break;
      }
      if (batch->events.empty()) continue;
      events += batch->events.size();
      batches.push_back(std::move(*batch));
    }
    EXPECT_EQ(events, count) << "timed out waiting for changes";
    return batches;
  }

  // Reads until the source has handed out a position at or after the server's current end.
  std::string drain(Source& src, std::vector<ChangeEvent>* events = nullptr) {
    auto end = admin_->query("SHOW MASTER STATUS");
    EXPECT_TRUE(end && !end->empty());
    if (!end || end->empty()) return "";
    const BinlogPosition target{*(*end)[0][0],
                                static_cast<std::uint32_t>(std::stoul(*(*end)[0][1])), ""};
    std::string last;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto batch = src.poll(milliseconds(200));
      if (!batch) {
        ADD_FAILURE() << batch.error().toString();
        return last;
      }
      if (batch->position.empty()) continue;
      if (events) events->insert(events->end(), batch->events.begin(), batch->events.end());
      last = batch->position;
      auto at = BinlogPosition::parse(last);
      EXPECT_TRUE(at.has_value()) << last;
      if (at &&
          (at->file > target.file || (at->file == target.file && at->offset >= target.offset))) {
        return last;
      }
    }
    ADD_FAILURE() << "never reached " << target.toString();
    return last;
  }

  static std::vector<ChangeEvent> flatten(const std::vector<ChangeBatch>& batches) {
    std::vector<ChangeEvent> out;
    for (const auto& b : batches) out.insert(out.end(), b.events.begin(), b.events.end());
    return out;
  }
};

TEST(MysqlBinlogPositionTest, TextRoundTrips) {
  const BinlogPosition p{"binlog.000003", 1234, "0-1-57"};
  EXPECT_EQ(p.toString(), "binlog.000003:1234;gtid=0-1-57");
  EXPECT_EQ(BinlogPosition::parse(p.toString()), p);
  EXPECT_EQ(BinlogPosition::parse("binlog.000003:4"), (BinlogPosition{"binlog.000003", 4, ""}));
  EXPECT_FALSE(BinlogPosition::parse("42").has_value());  // a trigger-mode checkpoint
  EXPECT_FALSE(BinlogPosition::parse("binlog.000003:x").has_value());
  EXPECT_FALSE(BinlogPosition::parse(":4").has_value());
}

TEST_F(MysqlBinlogTest, CapturesInsertUpdateDeleteWithBeforeImages) {
  const std::string t = createTable(
      "orders", "id INT NOT NULL PRIMARY KEY, status VARCHAR(20) NOT NULL, total DECIMAL(10,2)");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->setup().isOk());
  ASSERT_TRUE(src->start("").isOk());

  exec("INSERT INTO `" + t + "` VALUES (1, 'new', 12.50)");
  exec("UPDATE `" + t + "` SET status = 'completed' WHERE id = 1");
  exec("DELETE FROM `" + t + "` WHERE id = 1");
  const auto batches = collect(*src, 3);
  const auto events = flatten(batches);
  ASSERT_EQ(events.size(), 3u);

  EXPECT_EQ(events[0].source, "shop");
  EXPECT_EQ(events[0].table, t);
  EXPECT_EQ(events[0].op, Op::kInsert);
  EXPECT_EQ(events[0].pk, "1");
  EXPECT_FALSE(events[0].before.has_value());
  EXPECT_EQ(*events[0].after, (Row{{"id", 1}, {"status", "new"}, {"total", "12.50"}}));

  EXPECT_EQ(events[1].op, Op::kUpdate);
  ASSERT_TRUE(events[1].before.has_value());
  EXPECT_EQ(*events[1].before->find("status"), Value("new"));
  EXPECT_EQ(*events[1].after->find("status"), Value("completed"));

  EXPECT_EQ(events[2].op, Op::kDelete);
  EXPECT_FALSE(events[2].after.has_value());
  EXPECT_EQ(*events[2].before->find("status"), Value("completed"));
  EXPECT_EQ(events[2].pk, "1");

  // Each autocommitted statement is its own transaction with a later position, stamped on
  // its events.
  std::vector<std::string> positions;
  for (const auto& e : events) positions.push_back(e.position);
  EXPECT_NE(positions[0], positions[1]);
  EXPECT_NE(positions[1], positions[2]);
  EXPECT_EQ(batches.back().position, positions[2]);
  EXPECT_FALSE(events[0].txid.empty());
  EXPECT_NE(events[0].txid, events[1].txid);
}

TEST_F(MysqlBinlogTest, MultiRowCommitIsOneBatch) {
  const std::string t = createTable("items", "id INT NOT NULL PRIMARY KEY, qty INT");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  drain(*src);

  exec("START TRANSACTION");
  exec("INSERT INTO `" + t + "` VALUES (1, 10), (2, 20), (3, 30)");
  exec("UPDATE `" + t + "` SET qty = qty - 1");
  exec("COMMIT");
  const auto batches = collect(*src, 6);
  ASSERT_EQ(batches.size(), 1u) << "one transaction, one batch";
  const auto& events = batches[0].events;
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(batches[0].position, events[0].position);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].op, Op::kInsert);
    EXPECT_EQ(events[i].pk, std::to_string(i + 1));
    EXPECT_EQ(events[i + 3].op, Op::kUpdate);
    EXPECT_EQ(*events[i + 3].before->find("qty"), Value((i + 1) * 10));
    EXPECT_EQ(*events[i + 3].after->find("qty"), Value((i + 1) * 10 - 1));
    EXPECT_EQ(events[i].position, batches[0].position);
    EXPECT_EQ(events[i].txid, events[0].txid);
  }
}

TEST_F(MysqlBinlogTest, LateCommittingTransactionArrivesInCommitOrder) {
  const std::string t = createTable("orders", "id INT NOT NULL PRIMARY KEY, note VARCHAR(20)");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  drain(*src);

  auto early = connect();
  ASSERT_NE(early, nullptr);
  ASSERT_TRUE(early->begin().isOk());
  ASSERT_TRUE(early->exec("INSERT INTO `" + t + "` VALUES (1, 'opened first')").isOk());
  exec("INSERT INTO `" + t + "` VALUES (2, 'committed first')");
  ASSERT_TRUE(early->commit().isOk());

  const auto events = flatten(collect(*src, 2));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].pk, "2");
  EXPECT_EQ(events[1].pk, "1");
  auto first = BinlogPosition::parse(events[0].position);
  auto second = BinlogPosition::parse(events[1].position);
  ASSERT_TRUE(first && second);
  EXPECT_LT(first->offset, second->offset);
}

TEST_F(MysqlBinlogTest, RestartFromCheckpointResumesExactlyAfterIt) {
  const std::string t = createTable("orders", "id INT NOT NULL PRIMARY KEY");
  std::string checkpoint;
  {
    auto src = source({t});
    ASSERT_NE(src, nullptr);
    ASSERT_TRUE(src->start("").isOk());
    drain(*src);
    exec("INSERT INTO `" + t + "` VALUES (1)");
    exec("INSERT INTO `" + t + "` VALUES (2)");
    const auto events = flatten(collect(*src, 2));
    ASSERT_EQ(events.size(), 2u);
    // Only the first transaction was made durable before the "crash".
    checkpoint = events[0].position;
    ASSERT_NE(checkpoint, events[1].position);
    ASSERT_TRUE(src->acknowledge(checkpoint).isOk());
  }
  exec("INSERT INTO `" + t + "` VALUES (3)");

  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start(checkpoint).isOk());
  std::vector<ChangeEvent> events;
  drain(*src, &events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].pk, "2");
  EXPECT_EQ(events[1].pk, "3");

  // A checkpoint from another capture mode is refused, not misread.
  auto other = source({t});
  ASSERT_NE(other, nullptr);
  Status s = other->start("42");
  EXPECT_EQ(s.category(), ErrorCategory::kSourceLost) << s.toString();
}

TEST_F(MysqlBinlogTest, TrafficOnOtherTablesAdvancesThePosition) {
  const std::string captured = createTable("orders", "id INT NOT NULL PRIMARY KEY");
  const std::string other = createTable("logs", "id INT NOT NULL PRIMARY KEY, msg TEXT");
  auto src = source({captured});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  const std::string before = drain(*src);

  exec("INSERT INTO `" + other + "` VALUES (1, 'a')");
  exec("INSERT INTO `" + other + "` VALUES (2, 'b')");
  std::vector<ChangeEvent> events;
  const std::string after = drain(*src, &events);
  EXPECT_TRUE(events.empty()) << "changes of a table the source does not capture";
  auto b = BinlogPosition::parse(before);
  auto a = BinlogPosition::parse(after);
  ASSERT_TRUE(a && b);
  EXPECT_GT(a->offset, b->offset);
}

TEST_F(MysqlBinlogTest, WritesToTheBridgesOwnTablesDoNotMoveThePosition) {
  // Storing a position is a write the binlog logs; if that write handed out a new position,
  // the bridge would store positions forever on an idle shop.
  const std::string captured = createTable("orders", "id INT NOT NULL PRIMARY KEY");
  const std::string own = "smsbridge_" + name_ + "_checkpoints";  // the default prefix
  exec("CREATE TABLE `" + own + "` (source VARCHAR(20) PRIMARY KEY, position TEXT)");
  created_.push_back(own);
  auto src = source({captured});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  drain(*src);
  exec("INSERT INTO `" + own + "` VALUES ('shop', 'a')");
  exec("UPDATE `" + own + "` SET position = 'b'");
  // Longer than the heartbeat interval, which is when a held position would be handed out.
  auto batch = src->poll(milliseconds(2500));
  ASSERT_TRUE(batch) << batch.error().toString();
  EXPECT_EQ(batch->position, "") << "the bridge's own write moved the position";

  exec("INSERT INTO `" + captured + "` VALUES (1)");
  const auto events = flatten(collect(*src, 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].pk, "1");
}

TEST_F(MysqlBinlogTest, IdleStreamWithHeartbeatsKeepsCapturing) {
  const std::string t = createTable("orders", "id INT NOT NULL PRIMARY KEY");
  auto src = source({t});  // heartbeat every second
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  drain(*src);
  // Long enough for the server to send heartbeats, which are neither changes nor errors.
  auto idle = src->poll(milliseconds(2500));
  ASSERT_TRUE(idle) << idle.error().toString();
  EXPECT_TRUE(idle->events.empty());
  exec("INSERT INTO `" + t + "` VALUES (1)");
  const auto events = flatten(collect(*src, 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].pk, "1");
}

TEST_F(MysqlBinlogTest, TypesRoundTripThroughTheServer) {
  const std::string t = createTable(
      "types",
      "id BIGINT UNSIGNED NOT NULL PRIMARY KEY, price DECIMAL(12,4), at DATETIME(3), "
      "doc JSON, body LONGTEXT, state ENUM('new','paid','shipped'), tags SET('a','b','c'), "
      "flags BIT(8), small TINYINT UNSIGNED, big BIGINT UNSIGNED, name VARCHAR(50), "
      "born DATE, ratio DOUBLE, missing INT");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  drain(*src);

  exec("INSERT INTO `" + t +
       "` VALUES (18446744073709551615, -1234.5678, '2026-11-22 10:15:00.123', "
       "'{\"a\": [1, 2]}', 'Zażółć gęślą jaźń 😀', 'paid', 'a,c', b'10100101', 255, "
       "9223372036854775808, 'Łukasz', '2024-02-29', 0.25, NULL)");
  const auto events = flatten(collect(*src, 1));
  ASSERT_EQ(events.size(), 1u);
  const Row& row = *events[0].after;
  EXPECT_EQ(events[0].pk, "18446744073709551615");
  EXPECT_EQ(*row.find("id"), Value("18446744073709551615"));
  EXPECT_EQ(*row.find("price"), Value("-1234.5678"));
  EXPECT_EQ(*row.find("at"), Value("2026-11-22 10:15:00.123"));
  EXPECT_EQ(*row.find("doc"), Value("{\"a\": [1, 2]}"));
  EXPECT_EQ(*row.find("body"), Value("Zażółć gęślą jaźń 😀"));
  EXPECT_EQ(*row.find("state"), Value("paid"));
  EXPECT_EQ(*row.find("tags"), Value("a,c"));
  EXPECT_EQ(*row.find("flags"), Value(0b10100101));
  EXPECT_EQ(*row.find("small"), Value(255));
  EXPECT_EQ(*row.find("big"), Value("9223372036854775808"));
  EXPECT_EQ(*row.find("name"), Value("Łukasz"));
  EXPECT_EQ(*row.find("born"), Value("2024-02-29"));
  EXPECT_EQ(*row.find("ratio"), Value(0.25));
  EXPECT_TRUE(row.find("missing")->isNull());
}

TEST_F(MysqlBinlogTest, ReconnectsAfterTheDumpConnectionIsKilled) {
  const std::string t = createTable("orders", "id INT NOT NULL PRIMARY KEY");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  exec("INSERT INTO `" + t + "` VALUES (1)");
  ASSERT_EQ(flatten(collect(*src, 1)).size(), 1u);

  auto dumps = admin_->query(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
  ASSERT_TRUE(dumps) << dumps.error().toString();
  ASSERT_FALSE(dumps->empty()) << "no binlog dump thread to kill";
  for (const auto& row : *dumps) exec("KILL " + row[0].value_or("0"));
  exec("INSERT INTO `" + t + "` VALUES (2)");
  exec("INSERT INTO `" + t + "` VALUES (3)");

  std::vector<ChangeEvent> events;
  drain(*src, &events);
  ASSERT_EQ(events.size(), 2u) << "nothing lost, nothing read twice";
  EXPECT_EQ(events[0].pk, "2");
  EXPECT_EQ(events[1].pk, "3");
}

TEST_F(MysqlBinlogTest, ContinuesAcrossBinlogRotation) {
  const std::string t = createTable("orders", "id INT NOT NULL PRIMARY KEY");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  exec("INSERT INTO `" + t + "` VALUES (1)");
  const auto first = flatten(collect(*src, 1));
  ASSERT_EQ(first.size(), 1u);
  exec("FLUSH BINARY LOGS");
  exec("INSERT INTO `" + t + "` VALUES (2)");
  const auto second = flatten(collect(*src, 1));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].pk, "2");
  auto a = BinlogPosition::parse(first[0].position);
  auto b = BinlogPosition::parse(second[0].position);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->file, b->file) << "the second change is in the new binlog file";

  // And a restart from the position in the new file works too.
  exec("INSERT INTO `" + t + "` VALUES (3)");
  auto again = source({t});
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->start(second[0].position).isOk());
  const auto third = flatten(collect(*again, 1));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].pk, "3");
}

// Servers without binlog_row_metadata=FULL (MySQL 5.7, MariaDB < 10.5, or by choice) send no
// column names; they come from information_schema, which must describe the same table version.
class MysqlBinlogMinimalMetadataTest : public MysqlBinlogTest {
 protected:
  void SetUp() override {
    MysqlBinlogTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    auto current = admin_->query("SELECT @@global.binlog_row_metadata");
    ASSERT_TRUE(current && !current->empty());
    original_ = (*current)[0][0].value_or("FULL");
    exec("SET GLOBAL binlog_row_metadata = MINIMAL");
  }
  void TearDown() override {
    if (admin_ && !original_.empty()) {
      (void)admin_->exec("SET GLOBAL binlog_row_metadata = " + original_);
    }
    MysqlBinlogTest::TearDown();
  }
  std::string original_;
};

TEST_F(MysqlBinlogMinimalMetadataTest, NamesAndKeyComeFromInformationSchema) {
  const std::string t = createTable(
      "orders", "note VARCHAR(10), state ENUM('new','paid'), id INT NOT NULL PRIMARY KEY");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  exec("INSERT INTO `" + t + "` VALUES ('hi', 'paid', 7)");
  const auto events = flatten(collect(*src, 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].pk, "7");
  EXPECT_EQ(*events[0].after, (Row{{"note", "hi"}, {"state", "paid"}, {"id", 7}}));
}

TEST_F(MysqlBinlogMinimalMetadataTest, TableAlteredWhileStoppedIsReported) {
  const std::string t =
      createTable("orders", "id INT NOT NULL PRIMARY KEY, note VARCHAR(10), qty INT");
  std::string checkpoint;
  {
    auto src = source({t});
    ASSERT_NE(src, nullptr);
    ASSERT_TRUE(src->start("").isOk());
    checkpoint = drain(*src);
  }
  // While the bridge is stopped: a change, then the column's type changes.
  exec("INSERT INTO `" + t + "` VALUES (1, '5', 2)");
  exec("ALTER TABLE `" + t + "` MODIFY note INT");

  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start(checkpoint).isOk());
  std::optional<Status> error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!error && std::chrono::steady_clock::now() < deadline) {
    auto batch = src->poll(milliseconds(200));
    if (!batch)
      error = batch.error();
    else
      EXPECT_TRUE(batch->events.empty()) << "a row decoded against the wrong table version";
  }
  ASSERT_TRUE(error.has_value()) << "the altered table went unnoticed";
  EXPECT_EQ(error->category(), ErrorCategory::kSourceLost) << error->toString();
  EXPECT_NE(error->message().find("column 2 ('note') is VARCHAR in the binlog but int"),
            std::string::npos)
      << error->toString();
  EXPECT_NE(error->message().find("altered"), std::string::npos) << error->toString();
}

// MariaDB's log_bin_compress writes compressed query and rows events; skipping them would lose
// changes silently (cdc.md B1 #8), so capture stops and names the event and the setting.
class MysqlBinlogCompressedTest : public MysqlBinlogTest {
 protected:
  void TearDown() override {
    if (admin_) {
      (void)admin_->exec("SET GLOBAL log_bin_compress = OFF");
      (void)admin_->exec("SET GLOBAL log_bin_compress_min_len = 256");
    }
    MysqlBinlogTest::TearDown();
  }
};

TEST_F(MysqlBinlogCompressedTest, CompressedRowsEventStopsCaptureWithAReason) {
  const std::string t = createTable("notes", "id INT NOT NULL PRIMARY KEY, body TEXT");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(src->start("").isOk());
  drain(*src);
  exec("SET GLOBAL log_bin_compress_min_len = 10");
  exec("SET GLOBAL log_bin_compress = ON");
  exec("INSERT INTO `" + t + "` VALUES (1, REPEAT('compress me ', 50))");
  exec("SET GLOBAL log_bin_compress = OFF");

  std::optional<Status> error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!error && std::chrono::steady_clock::now() < deadline) {
    auto batch = src->poll(milliseconds(200));
    if (!batch) {
      error = batch.error();
    } else {
      EXPECT_TRUE(batch->events.empty()) << "a compressed event was decoded as plain";
    }
  }
  ASSERT_TRUE(error.has_value()) << "the compressed event went unnoticed";
  EXPECT_EQ(error->category(), ErrorCategory::kConfig) << error->toString();
  EXPECT_NE(error->message().find("COMPRESSED_EVENT"), std::string::npos) << error->toString();
  EXPECT_NE(error->message().find("log_bin_compress=OFF"), std::string::npos) << error->toString();
}

TEST_F(MysqlBinlogTest, RefusesATableThatDoesNotExist) {
  auto src = source({name_ + "_missing"});
  ASSERT_NE(src, nullptr);
  Status s = src->start("");
  EXPECT_EQ(s.category(), ErrorCategory::kConfig) << s.toString();
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.toString();
}

TEST_F(MysqlBinlogTest, RefusesATableWithoutPrimaryKey) {
  const std::string t = createTable("log", "msg VARCHAR(20)");
  auto src = source({t});
  ASSERT_NE(src, nullptr);
  Status s = src->start("");
  EXPECT_EQ(s.category(), ErrorCategory::kConfig) << s.toString();
  EXPECT_NE(s.message().find("has no primary key"), std::string::npos) << s.toString();
}

}  // namespace
}  // namespace smsbridge::mysql
