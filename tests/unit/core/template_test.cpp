#include "core/template.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/value.h"

namespace smsbridge {
namespace {

// {x} reads the after row, {"old", x} the before row and {"lookup", x} a lookup row.
class RowsContext : public EvalContext {
 public:
  Row after;
  std::optional<Row> before;
  Row lookup;

  const Value* resolve(std::span<const std::string> path) const override {
    if (path.size() == 1) return after.find(path[0]);
    if (path.size() == 2 && path[0] == "old") return before ? before->find(path[1]) : nullptr;
    if (path.size() == 2 && path[0] == "lookup") return lookup.find(path[1]);
    return nullptr;
  }
};

std::string describe(const std::vector<ExprDiagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += std::to_string(d.offset) + ": " + d.message + "\n";
  return out;
}

std::optional<Template> compileOk(std::string_view text) {
  auto compiled = Template::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&compiled)) {
    ADD_FAILURE() << "'" << text << "' failed to compile:\n" << describe(*diagnostics);
    return std::nullopt;
  }
  return std::get<Template>(std::move(compiled));
}

std::vector<ExprDiagnostic> compileErrors(std::string_view text) {
  auto compiled = Template::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&compiled)) {
    return *diagnostics;
  }
  return {};
}

struct Expected {
  std::size_t offset;
  std::string fragment;  // a part of the message
};

void expectErrors(std::string_view text, const std::vector<Expected>& expected) {
  const auto diagnostics = compileErrors(text);
  ASSERT_EQ(diagnostics.size(), expected.size()) << text << "\n" << describe(diagnostics);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(diagnostics[i].offset, expected[i].offset) << text << "\n" << describe(diagnostics);
    EXPECT_NE(diagnostics[i].message.find(expected[i].fragment), std::string::npos)
        << text << "\n"
        << describe(diagnostics);
  }
}

class TemplateTest : public ::testing::Test {
 protected:
  TemplateTest() {
    ctx_.after = Row{{"id", 17},
                     {"first_name", "aNNA"},
                     {"city", "łódź"},
                     {"total", 120.5},
                     {"price", "2.675"},
                     {"qty", 4},
                     {"stock", "3"},
                     {"note", Value()},
                     {"empty", ""},
                     {"active", true},
                     {"body", UnavailableValue{}},
                     {"len", 3},
                     {"word", "abc"}};
    ctx_.before = Row{{"id", 17}, {"status", "wc-processing"}};
    ctx_.lookup = Row{{"phone", "+48600100200"}, {"country", Value()}, {"name", "Jan"}};
  }

  std::string render(std::string_view text) {
    auto t = compileOk(text);
    if (!t) return "<compile error>";
    auto out = t->render(ctx_);
    if (!out) {
      ADD_FAILURE() << "'" << text << "': " << out.error().toString();
      return "<render error>";
    }
    return *out;
  }

  Status renderError(std::string_view text) {
    auto t = compileOk(text);
    if (!t) return internalError("did not compile");
    auto out = t->render(ctx_);
    if (out) {
      ADD_FAILURE() << "'" << text << "' rendered '" << *out << "'";
      return Status::ok();
    }
    return out.error();
  }

  RowsContext ctx_;
};

TEST_F(TemplateTest, LiteralTextIsConstant) {
  auto t = compileOk("Your order has shipped. }} { } are literal.");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->isConstant());
  EXPECT_TRUE(t->referencedFields().empty());
  EXPECT_EQ(*t->render(ctx_), "Your order has shipped. }} { } are literal.");
  auto empty = compileOk("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty->render(ctx_), "");
}

TEST_F(TemplateTest, PlaceholdersRenderFields) {
  EXPECT_EQ(render("Hi {{ lookup.name }}, order #{{id}} is on its way."),
            "Hi Jan, order #17 is on its way.");
  EXPECT_EQ(render("{{ total }} / {{ qty }} / {{ active }}"), "120.5 / 4 / true");
  EXPECT_EQ(render("{{ old.status }}"), "wc-processing");
}

TEST_F(TemplateTest, PlaceholdersAreExpressions) {
  EXPECT_EQ(render("low: {{ stock < 5 }}"), "low: true");
  EXPECT_EQ(render("{{ coalesce(note, lookup.phone) }}"), "+48600100200");
  EXPECT_EQ(render("{{ \"quoted }} braces\" }}"), "quoted }} braces");
}

TEST_F(TemplateTest, LiteralBracesAreWrittenAsAStringExpression) {
  EXPECT_EQ(render("{{ '{{' }} name }}"), "{{ name }}");
  EXPECT_EQ(render("a {{ '{{' }}{{ id }}}}"), "a {{17}}");
}

TEST_F(TemplateTest, NullRendersEmpty) { EXPECT_EQ(render("[{{ note }}]"), "[]"); }

TEST_F(TemplateTest, CaseFilters) {
  EXPECT_EQ(render("{{ city | upper }}"), "ŁÓDŹ");
  EXPECT_EQ(render("{{ 'ŻÓŁW' | lower }}"), "żółw");
  EXPECT_EQ(render("{{ first_name | capitalize }}"), "Anna");
  EXPECT_EQ(render("{{ city | capitalize }}"), "Łódź");
  EXPECT_EQ(render("{{ first_name | lower | upper }}"), "ANNA");
  EXPECT_EQ(render("{{ 'istanbul' | upper }}"), "ISTANBUL");  // root locale: no dotted İ
  EXPECT_EQ(render("{{ note | upper }}"), "");
}

TEST_F(TemplateTest, Truncate) {
  EXPECT_EQ(render("{{ 'Zażółć gęślą' | truncate(4) }}"), "Zażó");  // characters, not bytes
  EXPECT_EQ(render("{{ word | truncate(10) }}"), "abc");
  EXPECT_EQ(render("{{ word | truncate(0) }}"), "");
  EXPECT_EQ(render("{{ 'abcdef' | truncate(len) }}"), "abc");
  ctx_.after.set("len", "x");
  EXPECT_EQ(renderError("{{ word | truncate(len) }}").message(),
            "template filter 'truncate': the length must be a whole number from 0 to 1000000, "
            "got 'x'");
}

TEST_F(TemplateTest, Replace) {
  EXPECT_EQ(render("{{ '600-100-200' | replace('-', ' ') }}"), "600 100 200");
  EXPECT_EQ(render("{{ 'aaa' | replace('a', 'aa') }}"), "aaaaaa");
  EXPECT_EQ(render("{{ 'abc' | replace('x', 'y') }}"), "abc");
  EXPECT_EQ(render("{{ id | replace('7', '8') }}"), "18");
}

TEST_F(TemplateTest, Round) {
  EXPECT_EQ(render("{{ total | round(2) }}"), "120.50");
  EXPECT_EQ(render("{{ price | round(2) }}"), "2.68");  // decimal text rounds as written
  EXPECT_EQ(render("{{ 2.675 | round(2) }}"), "2.68");
  EXPECT_EQ(render("{{ qty | round(1) }}"), "4.0");
  EXPECT_EQ(render("{{ total | round }}"), "121");  // half away from zero
  EXPECT_EQ(render("{{ -2.5 | round }}"), "-3");
  EXPECT_EQ(render("{{ '9.995' | round(2) }}"), "10.00");
  EXPECT_EQ(render("{{ '-0.004' | round(2) }}"), "0.00");
  EXPECT_EQ(render("{{ stock | round(2) }}"), "3.00");
  EXPECT_EQ(render("{{ '1e3' | round }}"), "1000");
  EXPECT_EQ(render("{{ note | round(2) }}"), "");
  EXPECT_EQ(renderError("{{ word | round(2) }}").message(),
            "template filter 'round': word is 'abc', not a number");
}

TEST_F(TemplateTest, DefaultCoversNullEmptyAndMissing) {
  EXPECT_EQ(render("{{ lookup.country | default('PL') }}"), "PL");  // null
  EXPECT_EQ(render("{{ empty | default('-') }}"), "-");
  EXPECT_EQ(render("{{ lookup.region | default('PL') }}"), "PL");  // no such field
  EXPECT_EQ(render("{{ lookup.name | default('PL') }}"), "Jan");
  EXPECT_EQ(render("{{ qty | default(1) }}"), "4");
  EXPECT_EQ(render("{{ lookup.region | upper | default('none') }}"), "none");
  EXPECT_EQ(render("{{ lookup.region | default(lookup.name) | upper }}"), "JAN");
  EXPECT_EQ(render("{{ lookup.region | default(lookup.country) }}"), "");
}

TEST_F(TemplateTest, DefaultDoesNotHideWhatTheSourceDidNotSend) {
  Status error = renderError("{{ body | default('x') }}");
  EXPECT_EQ(error.category(), ErrorCategory::kRejected);
  EXPECT_EQ(error.message(), "template field 'body' is unavailable (not sent by the source)");
  // The fallback itself must exist.
  EXPECT_EQ(renderError("{{ note | default(missing) }}").message(),
            "template field 'missing' does not exist");
}

TEST_F(TemplateTest, MissingFieldRejectsTheMessage) {
  Status error = renderError("Hi {{ first_name }} {{ last_name }}");
  EXPECT_EQ(error.category(), ErrorCategory::kRejected);
  EXPECT_EQ(error.message(), "template field 'last_name' does not exist");
  EXPECT_EQ(renderError("{{ lookup.email | upper }}").message(),
            "template field 'lookup.email' does not exist");
}

TEST_F(TemplateTest, ConstantPlaceholdersAreFoldedAtCompileTime) {
  auto t = compileOk("{{ 'transactional' | upper }}-{{ 1.5 | round(1) }}");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->isConstant());
  EXPECT_EQ(*t->render(ctx_), "TRANSACTIONAL-1.5");
  auto dynamic = compileOk("order-{{ id }}");
  ASSERT_TRUE(dynamic);
  EXPECT_FALSE(dynamic->isConstant());
}

TEST_F(TemplateTest, ReferencedFields) {
  auto t = compileOk(
      "{{ id }} {{ lookup.country | default(lookup.name) }} {{ id }} {{ changed(qty) }} "
      "{{ word | truncate(len) }}");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->referencedFields(), (std::vector<std::string>{"id", "lookup.country", "lookup.name",
                                                             "qty", "old.qty", "word", "len"}));
  EXPECT_EQ(t->text(),
            "{{ id }} {{ lookup.country | default(lookup.name) }} {{ id }} {{ changed(qty) }} "
            "{{ word | truncate(len) }}");
}

TEST(TemplateCompileTest, ErrorsArePositionedInTheWholeTemplate) {
  expectErrors("Hi {{ name", {{3, "unclosed '{{'"}});
  expectErrors("x {{ 'abc }}", {{2, "unclosed '{{'"}, {5, "unterminated string"}});
  expectErrors("Hello {{ a == }}", {{14, "expected a value"}});
  expectErrors("{{ }}", {{3, "expected a value"}});
  expectErrors("{{ a b }}", {{5, "expected '|' or '}}' after the expression, got 'b'"}});
  expectErrors("{{ a | }}", {{7, "expected a filter name after '|', got '}}'"}});
  expectErrors("{{ a | truncate(3 }}",
               {{18, "expected ',' or ')' after an argument of filter 'truncate'"}});
  expectErrors("{{ a | truncate(3,) }}", {{18, "expected a value, got ')'"}});
  expectErrors("{{ foo(a) }}", {{3, "unknown function 'foo'"}});
  expectErrors("{{ a = 1 }}", {{5, "use '=='"}});
}

TEST(TemplateCompileTest, FiltersAreCheckedAtCompileTime) {
  expectErrors("{{ name | uper }}",
               {{10,
                 "unknown filter 'uper' (known filters: capitalize, default, lower, replace, "
                 "round, truncate, upper)"}});
  expectErrors("{{ name | truncate }}", {{10, "filter 'truncate' takes 1 argument, got 0"}});
  expectErrors("{{ name | default }}", {{10, "filter 'default' takes 1 argument, got 0"}});
  expectErrors("{{ name | upper(1) }}", {{10, "filter 'upper' takes 0 arguments, got 1"}});
  expectErrors("{{ name | round(1, 2) }}", {{10, "filter 'round' takes 0 to 1 arguments, got 2"}});
  expectErrors("{{ name | replace('a') }}", {{10, "filter 'replace' takes 2 arguments, got 1"}});
  expectErrors("{{ name | truncate('x') }}", {{19, "the length must be a whole number"}});
  expectErrors("{{ name | truncate(-1) }}", {{19, "the length must be a whole number"}});
  expectErrors("{{ a | round(11) }}", {{13, "the number of decimals must be a whole number"}});
  expectErrors("{{ a | replace('', 'x') }}", {{15, "the text to replace must not be empty"}});
  expectErrors("{{ 'abc' | round }}", {{3, "template filter 'round': 'abc' is not a number"}});
}

TEST(TemplateCompileTest, ReportsEveryBrokenPlaceholder) {
  expectErrors("{{ a | nope }} and {{ b = 1 }} and {{ c | truncate }}",
               {{7, "unknown filter 'nope'"}, {24, "use '=='"}, {42, "takes 1 argument"}});
}

// Garbage must produce positioned diagnostics, never a crash, a throw or a hang; whatever
// compiles must render to text or a kRejected error.
TEST_F(TemplateTest, GarbageNeverCrashesCompileOrRender) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"{{",
                                           "}}",
                                           "{",
                                           "}",
                                           "|",
                                           "upper",
                                           "default(",
                                           "truncate(",
                                           "round(",
                                           "replace(",
                                           ")",
                                           "(",
                                           ",",
                                           "'",
                                           "\"",
                                           "\\",
                                           "'x'",
                                           "2",
                                           "-1",
                                           "id",
                                           "missing",
                                           "body",
                                           "lookup.country",
                                           "==",
                                           "and",
                                           "not",
                                           " ",
                                           "Hi ",
                                           "ł",
                                           "\xe2\x82",
                                           "\n"};
  int compiled = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = static_cast<int>(rng() % 20);
    if (round % 4 == 0) {
      for (int i = 0; i < length * 2; ++i) text += static_cast<char>(rng() % 256);
    } else {
      for (int i = 0; i < length; ++i) text += pieces[rng() % pieces.size()];
    }
    auto result = Template::compile(text);
    if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&result)) {
      ASSERT_FALSE(diagnostics->empty());
      for (const auto& d : *diagnostics) ASSERT_LE(d.offset, text.size()) << text;
      continue;
    }
    ++compiled;
    const Template& t = std::get<Template>(result);
    auto out = t.render(ctx_);
    if (!out) {
      EXPECT_EQ(out.error().category(), ErrorCategory::kRejected) << text;
    }
    if (t.isConstant()) {
      EXPECT_TRUE(out.has_value()) << text;
    }
  }
  EXPECT_GT(compiled, 100);
}

}  // namespace
}  // namespace smsbridge
