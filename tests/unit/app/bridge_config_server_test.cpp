#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "app/bridge_config.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

namespace fs = std::filesystem;

// The quickstart example with `extra` appended: a valid config to vary the server section of.
std::string quickstartWith(const testing::TempDir& dir, const std::string& extra) {
  std::ifstream in(fs::path(SMSBRIDGE_SOURCE_DIR) / "examples" / "quickstart" / "smsbridge.yaml");
  std::stringstream text;
  text << in.rdbuf() << "\n" << extra;
  std::string path = dir.file("smsbridge.yaml");
  std::ofstream(path) << text.str();
  return path;
}

TEST(BridgeConfigServerTest, NoServerSectionMeansNoServer) {
  testing::TempDir dir;
  config::Diagnostics diagnostics;
  auto cfg = loadBridgeConfig(quickstartWith(dir, ""), {}, diagnostics);
  ASSERT_TRUE(cfg) << diagnostics.toString();
  EXPECT_FALSE(cfg->server.has_value());
}

TEST(BridgeConfigServerTest, ServerSectionWithDefaults) {
  testing::TempDir dir;
  config::Diagnostics diagnostics;
  auto cfg = loadBridgeConfig(quickstartWith(dir, "server: {}\n"), {}, diagnostics);
  ASSERT_TRUE(cfg) << diagnostics.toString();
  ASSERT_TRUE(cfg->server.has_value());
  EXPECT_EQ(cfg->server->http.host, "127.0.0.1");
  EXPECT_EQ(cfg->server->http.port, 8787);
  EXPECT_EQ(cfg->server->http.max_body_bytes, 1048576u);
  EXPECT_EQ(cfg->server->http.header_timeout, std::chrono::seconds(10));
  EXPECT_EQ(cfg->server->http.body_timeout, std::chrono::seconds(30));
  EXPECT_EQ(cfg->server->http.max_connections, 256);
  EXPECT_TRUE(cfg->server->http.cert_file.empty());
  EXPECT_TRUE(cfg->server->public_url.empty());
}

TEST(BridgeConfigServerTest, EveryKeyIsRead) {
  testing::TempDir dir;
  config::Diagnostics diagnostics;
  auto cfg = loadBridgeConfig(quickstartWith(dir,
                                             "server:\n"
                                             "  listen: \"[::1]:0\"\n"
                                             "  public_url: https://sms.example.com/bridge\n"
                                             "  tls: {cert_file: tls/cert.pem, key_file: key.pem}\n"
                                             "  max_body_bytes: 2048\n"
                                             "  header_timeout: 2s\n"
                                             "  body_timeout: 500ms\n"
                                             "  max_connections: 8\n"),
                              {}, diagnostics);
  ASSERT_TRUE(cfg) << diagnostics.toString();
  const ServerSettings& s = *cfg->server;
  EXPECT_EQ(s.http.host, "::1");
  EXPECT_EQ(s.http.port, 0);
  EXPECT_EQ(s.public_url, "https://sms.example.com/bridge");
  // Relative to the config file, like every other path in it.
  EXPECT_EQ(s.http.cert_file, (dir.path() / "tls" / "cert.pem").string());
  EXPECT_EQ(s.http.key_file, (dir.path() / "key.pem").string());
  EXPECT_EQ(s.http.max_body_bytes, 2048u);
  EXPECT_EQ(s.http.header_timeout, std::chrono::seconds(2));
  EXPECT_EQ(s.http.body_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(s.http.max_connections, 8);
}

TEST(BridgeConfigServerTest, BadValuesAreReportedTogether) {
  testing::TempDir dir;
  config::Diagnostics diagnostics;
  auto cfg = loadBridgeConfig(quickstartWith(dir,
                                             "server:\n"
                                             "  listen: localhost\n"
                                             "  public_url: sms.example.com\n"
                                             "  tls: {cert_file: cert.pem}\n"
                                             "  max_connections: 0\n"
                                             "  colour: blue\n"),
                              {}, diagnostics);
  EXPECT_FALSE(cfg);
  std::string text = diagnostics.toString();
  for (const char* key : {"server.listen", "server.public_url", "server.tls.key_file",
                          "server.max_connections", "server.colour"}) {
    EXPECT_NE(text.find(std::string(key) + ":"), std::string::npos) << key << "\n" << text;
  }
}

}  // namespace
}  // namespace smsbridge
