// The walsender wire messages, byte for byte (reference/cdc.md C1): XLogData and keepalive
// from the server, the standby status update back to it.

#include "connectors/postgres/pg_replication.h"

#include <gtest/gtest.h>

namespace smsbridge::postgres {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(PgReplicationTest, ParsesXLogDataHeaderAndKeepsThePayload) {
  std::string data = bytes({'w', 0, 0, 0, 1, 0, 0, 0,    0x10,  // data start 1/10
                            0,   0, 0, 1, 0, 0, 0, 0x20,        // wal end 1/20
                            0,   0, 0, 0, 0, 0, 0, 5})          // send time
                     + "Bpayload";
  auto message = parseReplicationMessage(data);
  ASSERT_TRUE(message) << message.error().toString();
  const auto* w = std::get_if<XLogData>(&*message);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(formatLsn(w->data_start), "1/10");
  EXPECT_EQ(formatLsn(w->wal_end), "1/20");
  EXPECT_EQ(w->send_time, 5);
  EXPECT_EQ(w->payload, "Bpayload");
}

TEST(PgReplicationTest, ParsesKeepaliveWithReplyRequest) {
  std::string data = bytes({'k', 0, 0, 0, 2, 0, 0, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 9, 1});
  auto message = parseReplicationMessage(data);
  ASSERT_TRUE(message) << message.error().toString();
  const auto* k = std::get_if<PrimaryKeepalive>(&*message);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(formatLsn(k->wal_end), "2/30");
  EXPECT_EQ(k->send_time, 9);
  EXPECT_TRUE(k->reply_requested);
}

TEST(PgReplicationTest, RejectsShortAndUnknownMessages) {
  EXPECT_FALSE(parseReplicationMessage(""));
  EXPECT_FALSE(parseReplicationMessage(bytes({'w', 0, 0, 0})));
  EXPECT_FALSE(
      parseReplicationMessage(bytes({'k', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})));
  auto unknown = parseReplicationMessage("x123");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().category(), ErrorCategory::kInternal);
}

TEST(PgReplicationTest, EncodesStandbyStatusUpdate) {
  std::string r = encodeStandbyStatus(0x0000000100000010, 0x0000000100000008, 0x0000000100000008,
                                      0x0102030405060708, true);
  EXPECT_EQ(r, bytes({'r', 0, 0, 0, 1, 0, 0, 0,    0x10,  // write
                      0,   0, 0, 1, 0, 0, 0, 0x08,        // flush
                      0,   0, 0, 1, 0, 0, 0, 0x08,        // apply
                      1,   2, 3, 4, 5, 6, 7, 8,           // client time
                      1}));
  EXPECT_EQ(r.size(), 34u);
}

}  // namespace
}  // namespace smsbridge::postgres
