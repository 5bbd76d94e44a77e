#include "config/section.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/validate.h"
#include "tests/unit/config/test_schema.h"

namespace smsbridge::config {
namespace {

using std::chrono::milliseconds;
using testing::rootSchema;
using testing::withEnv;

class SectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("smsbridge-section-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "secrets");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Loads `yaml` as if it were <dir_>/shop.yaml and checks that it is valid.
  Document load(const std::string& yaml, LoadOptions options = withEnv({})) {
    auto doc = Document::loadString(yaml, (dir_ / "shop.yaml").string(), std::move(options));
    EXPECT_TRUE(doc.has_value());
    Diagnostics out;
    validate(*doc, rootSchema(), out);
    EXPECT_TRUE(out.empty()) << out.toString();
    return *doc;
  }

  std::filesystem::path dir_;
};

TEST_F(SectionTest, AbsentKeysReadAsSchemaDefaults) {
  Document doc = load("sources:\n  shop: {type: postgres, password: pw}\n");
  Section root = Section::root(doc, rootSchema());
  EXPECT_EQ(root.str("timezone"), "UTC");
  EXPECT_EQ(root.integer("workers"), 4);
  EXPECT_FALSE(root.has("timezone"));
  EXPECT_TRUE(root.has("sources"));

  Section twilio = root.object("providers").object("twilio");  // absent: all defaults
  EXPECT_EQ(twilio.path(), "providers.twilio");
  EXPECT_EQ(twilio.integer("max_inflight"), 8);
  EXPECT_DOUBLE_EQ(twilio.number("price_limit"), 0.25);
  EXPECT_TRUE(twilio.boolean("verify_tls"));
  EXPECT_EQ(twilio.duration("timeout"), milliseconds(10000));
  EXPECT_EQ(twilio.str("from"), "");

  auto sources = root.entries("sources");
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources[0].first, "shop");
  const Section& shop = sources[0].second;
  EXPECT_EQ(shop.path(), "sources.shop");
  EXPECT_EQ(shop.str("type"), "postgres");
  EXPECT_EQ(shop.str("host"), "localhost");  // default of the selected variant
  EXPECT_EQ(shop.integer("port"), 5432);
  EXPECT_EQ(shop.str("mode"), "poll");
  EXPECT_EQ(shop.duration("poll_interval"), milliseconds(5000));
  EXPECT_TRUE(shop.strings("tables").empty());
}

TEST_F(SectionTest, GivenValuesWin) {
  Document doc = load(
      "workers: 16\n"
      "sources:\n"
      "  shop: {type: sqlite, path: shop.db, poll_interval: 250ms, tables: orders}\n"
      "providers:\n"
      "  twilio: {account_sid: AC1, auth_token: t, from: Shop, verify_tls: off, price_limit: "
      "0.07}\n"
      "mappings:\n"
      "  a: {source: shop, table: orders, to: x, text: y}\n"
      "  b: {source: shop, table: orders, to: x, text: y, on: [delete]}\n"
      "routes:\n"
      "  otp: [messageflow, twilio]\n"
      "  default: twilio\n");
  Section root = Section::root(doc, rootSchema());
  EXPECT_EQ(root.integer("workers"), 16);
  Section shop = root.entries("sources")[0].second;
  EXPECT_EQ(shop.duration("poll_interval"), milliseconds(250));
  EXPECT_EQ(shop.strings("tables"), std::vector<std::string>{"orders"});
  EXPECT_EQ(shop.resolvePath("path"), (dir_ / "shop.db").string());
  Section twilio = root.object("providers").object("twilio");
  EXPECT_FALSE(twilio.boolean("verify_tls"));
  EXPECT_DOUBLE_EQ(twilio.number("price_limit"), 0.07);

  auto mappings = root.entries("mappings");
  ASSERT_EQ(mappings.size(), 2u);
  EXPECT_EQ(mappings[0].second.strings("on"), (std::vector<std::string>{"insert", "update"}));
  EXPECT_EQ(mappings[1].second.strings("on"), std::vector<std::string>{"delete"});
  EXPECT_EQ(mappings[0].second.str("lane"), "transactional");

  // Scalar elements of a map are read with an empty key.
  auto routes = root.entries("routes");
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].first, "otp");
  EXPECT_EQ(routes[0].second.strings(), (std::vector<std::string>{"messageflow", "twilio"}));
  EXPECT_EQ(routes[1].second.strings(), std::vector<std::string>{"twilio"});
  EXPECT_EQ(routes[1].second.path(), "routes.default");
  // The same through object(): the container, then its entries.
  EXPECT_EQ(root.object("routes").entries().size(), 2u);
}

TEST_F(SectionTest, TypeMismatchReadsAsTheDefaultWithoutThrowing) {
  auto doc = Document::loadString("workers: many\ntimezone: [a]\nsources: 3\n", "x.yaml");
  ASSERT_TRUE(doc.has_value());
  Section root = Section::root(*doc, rootSchema());
  EXPECT_EQ(root.integer("workers"), 4);
  EXPECT_EQ(root.str("timezone"), "UTC");
  EXPECT_TRUE(root.entries("sources").empty());
  EXPECT_TRUE(root.object("providers").object("twilio").str("from").empty());
  EXPECT_EQ(root.str("no_such_key"), "");
}

TEST_F(SectionTest, ItemsOfAListOfMappings) {
  static const Schema kColumn{
      .fields = {required(str("name", "Column.")), integer("width", 10, "Width.")}};
  static const Schema kRoot{.fields = {listOf("columns", kColumn, "Columns."),
                                       listOf("ports", FieldType::kInt, "Ports.")}};
  auto doc = Document::loadString(
      "columns:\n  - name: id\n  - name: phone\n    width: 20\n"
      "ports: [80, 443]\n",
      "x.yaml");
  ASSERT_TRUE(doc.has_value());
  Diagnostics out;
  validate(*doc, kRoot, out);
  EXPECT_TRUE(out.empty()) << out.toString();
  Section root = Section::root(*doc, kRoot);
  auto columns = root.items("columns");
  ASSERT_EQ(columns.size(), 2u);
  EXPECT_EQ(columns[0].integer("width"), 10);
  EXPECT_EQ(columns[1].integer("width"), 20);
  EXPECT_EQ(columns[1].path(), "columns[1]");
  auto ports = root.items("ports");
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[1].integer(), 443);
}

TEST_F(SectionTest, SecretInlineOrFromAFileRelativeToTheConfig) {
  std::ofstream(dir_ / "secrets" / "pg") << "s3cr3t\n";
  Document doc = load(
      "sources:\n"
      "  inline: {type: postgres, password: \"${PG_PASSWORD}\"}\n"
      "  file: {type: postgres, password_file: secrets/pg}\n",
      withEnv({{"PG_PASSWORD", "from-env"}}));
  auto sources = Section::root(doc, rootSchema()).entries("sources");
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0].second.secret("password").value(), "from-env");
  EXPECT_EQ(sources[1].second.secret("password").value(), "s3cr3t");
  EXPECT_TRUE(sources[1].second.has("password"));
}

TEST_F(SectionTest, UnreadableSecretFileNamesTheFileNotTheSecret) {
  Document doc = load("sources:\n  shop: {type: postgres, password_file: secrets/missing}\n");
  Section shop = Section::root(doc, rootSchema()).entries("sources")[0].second;
  auto password = shop.secret("password");
  ASSERT_FALSE(password.has_value());
  EXPECT_EQ(password.error().category(), ErrorCategory::kConfig);
  EXPECT_EQ(password.error().message(),
            (dir_ / "shop.yaml").string() +
                ":2:41: sources.shop.password_file: cannot read secret file '" +
                (dir_ / "secrets" / "missing").string() + "': No such file or directory");
}

TEST_F(SectionTest, SecretFilesAreNotReadWhenLoadingForCheck) {
  LoadOptions options = withEnv({});
  options.read_secret_files = false;
  Document doc =
      load("sources:\n  shop: {type: postgres, password_file: secrets/missing}\n", options);
  Section shop = Section::root(doc, rootSchema()).entries("sources")[0].second;
  auto password = shop.secret("password");
  ASSERT_TRUE(password.has_value());
  EXPECT_NE(password->find("secrets/missing"), std::string::npos);
}

TEST_F(SectionTest, AtPointsAtTheValueOrTheSection) {
  Document doc = load(
      "sources:\n"
      "  shop:\n"
      "    type: sqlite\n"
      "    path: shop.db\n");
  Section shop = Section::root(doc, rootSchema()).entries("sources")[0].second;
  std::string file = (dir_ / "shop.yaml").string();
  EXPECT_EQ(shop.at("path", "no such file").toString(),
            file + ":4:11: sources.shop.path: no such file");
  EXPECT_EQ(shop.at("tables", "needs at least one table").toString(),
            file + ":3:5: sources.shop.tables: needs at least one table");
  EXPECT_EQ(shop.at("", "unreachable").toString(), file + ":3:5: sources.shop: unreachable");
}

TEST_F(SectionTest, AtOffsetFindsTheColumnInsideScalars) {
  auto doc = Document::loadString(
      "plain: Hi {{ name }}\n"
      "single: 'It''s {{ name }}'\n"
      "double: \"Tab\\there {{ name }}\"\n"
      "literal: |\n"
      "  first line\n"
      "  Hi {{ name }}\n"
      "folded: >\n"
      "  one\n"
      "  two {{ name }}\n"
      "multi: first\n"
      "  second {{ name }}\n"
      "env: \"${GREETING} {{ name }}\"\n"
      "unicode: \"\\u00e9 {{ name }}\"\n",
      "t.yaml", withEnv({{"GREETING", "Hello"}}));
  ASSERT_TRUE(doc.has_value());
  Section root(&*doc, doc->root(), nullptr, "");
  auto at = [&root](std::string_view key) {
    std::string value = root.str(key);
    Diagnostic d = root.atOffset(key, value.find("{{"), "here");
    return std::to_string(d.line) + ":" + std::to_string(d.column);
  };
  EXPECT_EQ(at("plain"), "1:11");
  EXPECT_EQ(at("single"), "2:16");  // the quote and the doubled '' shift the column
  EXPECT_EQ(at("double"), "3:20");  // "\t" is two characters in the file
  EXPECT_EQ(at("literal"), "6:6");
  EXPECT_EQ(at("folded"), "9:7");
  EXPECT_EQ(at("multi"), "11:10");
  EXPECT_EQ(at("env"), "12:7");       // substituted: the start of the value
  EXPECT_EQ(at("unicode"), "13:18");  // "\u00e9" is six characters in the file, two bytes
  EXPECT_EQ(root.atOffset("plain", 0, "m").toString(), "t.yaml:1:8: plain: m");
}

TEST_F(SectionTest, AssigningSectionsDoesNotWriteIntoTheDocument) {
  Document doc =
      load("sources:\n  a: {type: sqlite, path: a.db}\n  b: {type: sqlite, path: b.db}\n");
  auto sources = Section::root(doc, rootSchema()).entries("sources");
  Section s = sources[0].second;
  s = sources[1].second;
  EXPECT_EQ(s.str("path"), "b.db");
  EXPECT_EQ(Section::root(doc, rootSchema()).entries("sources")[0].second.str("path"), "a.db");
}

}  // namespace
}  // namespace smsbridge::config
