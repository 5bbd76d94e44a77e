#include "config/document.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/validate.h"
#include "tests/unit/config/test_schema.h"

namespace smsbridge::config {
namespace {

using testing::withEnv;

TEST(DocumentTest, SyntaxErrorIsAConfigErrorWithPosition) {
  auto doc = Document::loadString("a: 1\nb: c: d\n", "shop.yaml");
  ASSERT_FALSE(doc.has_value());
  EXPECT_EQ(doc.error().category(), ErrorCategory::kConfig);
  EXPECT_EQ(doc.error().message(), "shop.yaml:2:5: illegal map value");
}

TEST(DocumentTest, MissingFileNamesTheFile) {
  auto doc = Document::loadFile("no/such/dir/shop.yaml");
  ASSERT_FALSE(doc.has_value());
  EXPECT_EQ(doc.error().category(), ErrorCategory::kConfig);
  EXPECT_EQ(doc.error().message(),
            "cannot read config file 'no/such/dir/shop.yaml': No such file or directory");
}

TEST(DocumentTest, LoadsAFileAndResolvesItsDirectory) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("smsbridge-document-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "shop.yaml") << "timezone: Europe/Warsaw\n";
  auto doc = Document::loadFile((dir / "shop.yaml").string());
  ASSERT_TRUE(doc.has_value()) << doc.error().toString();
  EXPECT_EQ(doc->root()["timezone"].Scalar(), "Europe/Warsaw");
  EXPECT_EQ(doc->baseDir(), dir.lexically_normal().string());
  EXPECT_EQ(doc->file(), (dir / "shop.yaml").string());
  std::filesystem::remove_all(dir);
}

TEST(DocumentTest, SubstitutesEnvironmentVariablesInEveryScalar) {
  auto doc = Document::loadString(
      "a: ${HOST}\n"
      "b: 'postgres://${USER}@${HOST}:${PORT:-5432}/shop'\n"
      "c: [\"${EMPTY:-fallback}\", \"${EMPTY}\"]\n"
      "d: price $${AMOUNT} and $5\n",
      "shop.yaml", withEnv({{"HOST", "db.local"}, {"USER", "bridge"}, {"EMPTY", ""}}));
  ASSERT_TRUE(doc.has_value());
  EXPECT_TRUE(doc->diagnostics().empty()) << doc->diagnostics().toString();
  const YAML::Node& root = doc->root();
  EXPECT_EQ(root["a"].Scalar(), "db.local");
  EXPECT_EQ(root["b"].Scalar(), "postgres://bridge@db.local:5432/shop");
  EXPECT_EQ(root["c"][0].Scalar(), "fallback");
  EXPECT_EQ(root["c"][1].Scalar(), "");
  EXPECT_EQ(root["d"].Scalar(), "price ${AMOUNT} and $5");
}

TEST(DocumentTest, UnsetVariableIsADiagnosticAtItsPosition) {
  auto doc = Document::loadString(
      "sources:\n"
      "  shop:\n"
      "    password: \"x-${DB_PASSWORD}\"\n"
      "    host: ${DB_HOST} ${BAD-NAME}\n",
      "shop.yaml", withEnv({}));
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->diagnostics().toString(),
            "shop.yaml:3:18: sources.shop.password: environment variable 'DB_PASSWORD' is not "
            "set\n"
            "shop.yaml:4:11: sources.shop.host: environment variable 'DB_HOST' is not set\n"
            "shop.yaml:4:22: sources.shop.host: invalid variable reference '${BAD-NAME}'; "
            "expected ${NAME} or ${NAME:-default}");
}

TEST(DocumentTest, ValidateReportsLoadDiagnosticsTogetherWithSchemaProblems) {
  auto doc = Document::loadString(
      "workers: many\n"
      "sources:\n"
      "  shop:\n"
      "    type: sqlite\n"
      "    path: ${DB_PATH}\n",
      "shop.yaml", withEnv({}));
  ASSERT_TRUE(doc.has_value());
  Diagnostics out;
  validate(*doc, testing::rootSchema(), out);
  EXPECT_EQ(out.toString(),
            "shop.yaml:1:10: workers: expected an integer, got 'many'\n"
            "shop.yaml:5:11: sources.shop.path: environment variable 'DB_PATH' is not set");
}

TEST(DocumentTest, MoreThanOneYamlDocumentIsReported) {
  auto doc = Document::loadString("a: 1\n---\nb: 2\n", "shop.yaml");
  ASSERT_TRUE(doc.has_value());
  ASSERT_EQ(doc->diagnostics().size(), 1u);
  EXPECT_EQ(doc->diagnostics().all()[0].line, 3);
}

TEST(DocumentTest, CyclicAliasesTerminate) {
  // A recursive schema (a tree of nodes) over a document whose aliases form a cycle.
  static Schema node{.name = "node"};
  node.fields = {mapOf("children", node, "Children."), str("label", "Label.")};
  auto doc =
      Document::loadString("children: &x {a: {children: *x, label: '${L}'}, b: {children: *x}}\n",
                           "cycle.yaml", withEnv({{"L", "leaf"}}));
  ASSERT_TRUE(doc.has_value());
  Diagnostics out;
  validate(*doc, node, out);
  EXPECT_TRUE(out.empty()) << out.toString();
  EXPECT_EQ(doc->root()["children"]["a"]["label"].Scalar(), "leaf");
}

TEST(DocumentTest, EmptyFileHasANullRoot) {
  auto doc = Document::loadString("", "empty.yaml");
  ASSERT_TRUE(doc.has_value());
  EXPECT_TRUE(doc->root().IsNull());
}

TEST(DocumentTest, ColumnsCountCharactersNotBytes) {
  auto doc = Document::loadString("text: \"Cześć ${NAME}\"\n", "pl.yaml", withEnv({}));
  ASSERT_TRUE(doc.has_value());
  ASSERT_EQ(doc->diagnostics().size(), 1u);
  EXPECT_EQ(doc->diagnostics().all()[0].column, 14);
}

TEST(DocumentTest, AssigningDocumentsDoesNotWriteIntoTheirTrees) {
  auto first = Document::loadString("a: 1\n", "one.yaml");
  auto second = Document::loadString("b: 2\n", "two.yaml");
  ASSERT_TRUE(first.has_value() && second.has_value());
  Document copy = *first;
  copy = *second;
  EXPECT_EQ(first->root()["a"].Scalar(), "1");
  EXPECT_EQ(copy.root()["b"].Scalar(), "2");
}

}  // namespace
}  // namespace smsbridge::config
