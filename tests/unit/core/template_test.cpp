#include "core/template.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/value.h"
#include "tests/fakes/rows_context.h"

namespace smsbridge {
namespace {

using testing::describe;
using testing::RowsContext;

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
                     {"word", "abc"},
                     {"created", "2024-07-01 12:00:00"},
                     {"epoch", 1719835200}};
    ctx_.before = Row{{"id", 17}, {"status", "wc-processing"}};
    ctx_.lookup = Row{{"phone", "+48600100200"},
                      {"country", Value()},
                      {"name", "Jan"},
                      {"zone", "America/New_York"}};
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

TEST_F(TemplateTest, Money) {
  EXPECT_EQ(render("{{ total | money(2) }}"), "120.50");
  EXPECT_EQ(render("{{ price | money(2) }}"), "2.68");  // decimal text rounds as written
  EXPECT_EQ(render("{{ 2.675 | money(2) }}"), "2.68");
  EXPECT_EQ(render("{{ '0.125' | money(2) }}"), "0.13");    // half away from zero...
  EXPECT_EQ(render("{{ '-0.125' | money(2) }}"), "-0.13");  // ...on both sides
  EXPECT_EQ(render("{{ '0.124999' | money(2) }}"), "0.12");
  EXPECT_EQ(render("{{ '9.995' | money(2) }}"), "10.00");
  EXPECT_EQ(render("{{ '-0.004' | money(2) }}"), "0.00");
  EXPECT_EQ(render("{{ '1234567.891' | money(2) }}"), "1234567.89");  // no thousands separator
  EXPECT_EQ(render("{{ '+19.9' | money(2) }}"), "19.90");
  EXPECT_EQ(render("{{ qty | money(2) }}"), "4.00");
  EXPECT_EQ(render("{{ -2.5 | money(0) }}"), "-3");
  EXPECT_EQ(render("{{ stock | money(3) }}"), "3.000");
  EXPECT_EQ(render("{{ note | money(2) }}"), "");
  Status error = renderError("{{ word | money(2) }}");
  EXPECT_EQ(error.category(), ErrorCategory::kRejected);
  EXPECT_EQ(error.message(), "template filter 'money': word is 'abc', not a number");
  EXPECT_EQ(renderError("{{ active | money(2) }}").message(),
            "template filter 'money': active is true, not a number");
  ctx_.after.set("len", 11);
  EXPECT_EQ(renderError("{{ total | money(len) }}").message(),
            "template filter 'money': the number of decimals must be a whole number from 0 to "
            "10, got 11");
}

TEST_F(TemplateTest, DateFormatsInATimeZone) {
  // A naive timestamp is UTC; Warsaw is UTC+2 in July and UTC+1 in January.
  EXPECT_EQ(render("{{ created | date('%Y-%m-%d %H:%M:%S') }}"), "2024-07-01 12:00:00");
  EXPECT_EQ(render("{{ created | date('%d.%m.%Y %H:%M', 'Europe/Warsaw') }}"), "01.07.2024 14:00");
  EXPECT_EQ(render("{{ '2024-01-15T12:00:00Z' | date('%H:%M', 'Europe/Warsaw') }}"), "13:00");
  EXPECT_EQ(render("{{ epoch | date('%H:%M', 'Europe/Warsaw') }}"), "14:00");
  EXPECT_EQ(render("{{ created | date('%Y-%m-%d %H:%M', lookup.zone) }}"), "2024-07-01 08:00");
  EXPECT_EQ(render("{{ created | date('%H:%M', 'Asia/Kolkata') }}"), "17:30");
  EXPECT_EQ(render("{{ created | date('%H:%M', 'UTC') }}"), "12:00");
  // Crossing midnight moves the date too.
  EXPECT_EQ(render("{{ '2024-12-31T23:30:00Z' | date('%Y-%m-%d %H:%M', 'Europe/Warsaw') }}"),
            "2025-01-01 00:30");
}

TEST_F(TemplateTest, DateAcrossDaylightSavingTimeInWarsaw) {
  // 2024-03-31 01:00 UTC: clocks go from 02:00 CET to 03:00 CEST.
  EXPECT_EQ(render("{{ '2024-03-31T00:59:59Z' | date('%H:%M:%S', 'Europe/Warsaw') }}"), "01:59:59");
  EXPECT_EQ(render("{{ '2024-03-31T01:00:00Z' | date('%H:%M:%S', 'Europe/Warsaw') }}"), "03:00:00");
  EXPECT_EQ(render("{{ 1711846800 | date('%H:%M:%S', 'Europe/Warsaw') }}"), "03:00:00");
  // 2024-10-27 01:00 UTC: clocks go from 03:00 CEST back to 02:00 CET.
  EXPECT_EQ(render("{{ '2024-10-27T00:59:59Z' | date('%H:%M:%S', 'Europe/Warsaw') }}"), "02:59:59");
  EXPECT_EQ(render("{{ '2024-10-27T01:00:00Z' | date('%H:%M:%S', 'Europe/Warsaw') }}"), "02:00:00");
  EXPECT_EQ(render("{{ 1729990800 | date('%H:%M:%S', 'Europe/Warsaw') }}"), "02:00:00");
  // An offset in the input is honoured before converting: 09:30 in Chicago (CDT) is 16:30 here.
  EXPECT_EQ(render("{{ '2024-10-26 09:30:00-05:00' | date('%H:%M', 'Europe/Warsaw') }}"), "16:30");
}

TEST_F(TemplateTest, DateReadsTheTimestampsDatabasesWrite) {
  struct Case {
    std::string_view input;
    std::string_view expected;  // '%Y-%m-%d %H:%M:%S' in UTC
  };
  for (const Case& c : {
           Case{"2024-05-01", "2024-05-01 00:00:00"},
           Case{"2024-05-01 10:20:30", "2024-05-01 10:20:30"},
           Case{"2024-05-01T10:20:30", "2024-05-01 10:20:30"},
           Case{"2024-05-01t10:20:30z", "2024-05-01 10:20:30"},
           Case{"2024-05-01 10:20", "2024-05-01 10:20:00"},
           Case{"2024-05-01T10:20:30.999999Z", "2024-05-01 10:20:30"},  // fraction dropped
           Case{"2024-05-01 10:20:30.123+02", "2024-05-01 08:20:30"},   // PostgreSQL
           Case{"2024-05-01T10:20:30+05:30", "2024-05-01 04:50:30"},
           Case{"2024-05-01T10:20:30+0530", "2024-05-01 04:50:30"},
           Case{"2024-05-01T01:20:30-02:00", "2024-05-01 03:20:30"},
           Case{"2024-05-01T00:20:30+01:00", "2024-04-30 23:20:30"},
           Case{"2024-02-29T12:00:00Z", "2024-02-29 12:00:00"},
           Case{"1714558830", "2024-05-01 10:20:30"},  // epoch seconds as text
           Case{"0", "1970-01-01 00:00:00"},
           Case{"-1", "1969-12-31 23:59:59"},
       }) {
    ctx_.after.set("when", std::string(c.input));
    EXPECT_EQ(render("{{ when | date('%Y-%m-%d %H:%M:%S') }}"), c.expected) << c.input;
  }
  ctx_.after.set("when", 1714558830.0);  // a DOUBLE column holding whole seconds
  EXPECT_EQ(render("{{ when | date('%Y-%m-%d %H:%M:%S') }}"), "2024-05-01 10:20:30");
  EXPECT_EQ(render("{{ note | date('%Y') }}"), "");  // null passes through
}

TEST_F(TemplateTest, DateConversions) {
  ctx_.after.set("when", "2024-03-05T15:04:05Z");  // a Tuesday, day 65 of a leap year
  EXPECT_EQ(render("{{ when | date('%a %b %e %y %j %I:%M %p %%') }}"),
            "Tue Mar  5 24 065 03:04 PM %");
  EXPECT_EQ(render("{{ when | date('%d/%m/%Y, %H.%M.%S') }}"), "05/03/2024, 15.04.05");
  EXPECT_EQ(render("{{ when | date('no conversions') }}"), "no conversions");
  EXPECT_EQ(render("{{ when | date('') }}"), "");
  EXPECT_EQ(render("{{ '2024-12-31T00:00:00Z' | date('%j %a %I %p') }}"), "366 Tue 12 AM");
  EXPECT_EQ(render("{{ '2024-06-30T12:59:00Z' | date('%I:%M %p %a %b') }}"), "12:59 PM Sun Jun");
  EXPECT_EQ(render("{{ '0987-01-02T00:00:00Z' | date('%Y %y %e') }}"), "0987 87  2");
}

TEST_F(TemplateTest, DateRejectsWhatIsNoTimestampNamingTheValue) {
  for (std::string_view bad :
       {"yesterday", "", "2024-02-30", "2024-13-01", "2024-05-01 24:00:00", "2024-05-01 10:60",
        "2024-05-01T10:20:30.", "2024-05-01T10:20:30 +02:00", "2024-05-01T10:20:30+2",
        "2024-05-01T10:20:30Z junk", "24-05-01", "0000-01-01", "1717171717000"}) {
    ctx_.after.set("when", std::string(bad));
    const Status error = renderError("{{ when | date('%Y') }}");
    EXPECT_EQ(error.category(), ErrorCategory::kRejected) << bad;
    EXPECT_EQ(error.message(),
              "template filter 'date': when is " + Value(std::string(bad)).toDebugString() +
                  ", not a timestamp (expected ISO-8601 like 2024-05-01T10:00:00Z, or Unix "
                  "epoch seconds, from year 1 to 9999)")
        << bad;
  }
  EXPECT_EQ(renderError("{{ active | date('%Y') }}").category(), ErrorCategory::kRejected);
  ctx_.after.set("when", 1714558830.5);
  EXPECT_EQ(renderError("{{ when | date('%Y') }}").message(),
            "template filter 'date': when is 1714558830.5, not a timestamp (expected ISO-8601 like "
            "2024-05-01T10:00:00Z, or Unix epoch seconds, from year 1 to 9999)");
  ctx_.lookup.set("zone", "Mars/Olympus_Mons");
  EXPECT_EQ(renderError("{{ created | date('%H', lookup.zone) }}").message(),
            "template filter 'date': unknown time zone 'Mars/Olympus_Mons' (use an IANA name "
            "like 'Europe/Warsaw' or 'UTC')");
}

TEST_F(TemplateTest, NowRendersTheContextClockOnEveryRender) {
  using namespace std::chrono;
  ctx_.clock = sys_days{year{2024} / 7 / 1} + hours{10};
  auto t = compileOk("sent {{ now() }} / {{ now() | date('%H:%M', 'Europe/Warsaw') }}");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->isConstant());
  EXPECT_TRUE(t->referencedFields().empty());
  EXPECT_EQ(*t->render(ctx_), "sent 2024-07-01T10:00:00.000Z / 12:00");
  *ctx_.clock += minutes{90};
  EXPECT_EQ(*t->render(ctx_), "sent 2024-07-01T11:30:00.000Z / 13:30");
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

TEST_F(TemplateTest, JoinJoinsAJsonArray) {
  ctx_.after.set("items", Value(std::string(R"(["Tee", "Mug", "Łyżka"])")));
  ctx_.after.set("sizes", Value(std::string("[38, 2.50, true, null, -1]")));
  ctx_.after.set("none", Value(std::string("[ ]")));
  ctx_.after.set("nulls", Value(std::string("[null, null]")));
  ctx_.after.set("single", Value(std::string("Tee")));
  ctx_.after.set("sep", Value(std::string(" + ")));
  EXPECT_EQ(render("{{ items | join(', ') }}"), "Tee, Mug, Łyżka");
  EXPECT_EQ(render("{{ items | join('') }}"), "TeeMugŁyżka");
  EXPECT_EQ(render("{{ items | join(sep) }}"), "Tee + Mug + Łyżka");
  // Numbers as written, null elements left out.
  EXPECT_EQ(render("{{ sizes | join('/') }}"), "38/2.50/true/-1");
  // Nothing to list is null: default applies, and alone it renders blank.
  EXPECT_EQ(render("[{{ none | join(', ') | default('nothing') }}]"), "[nothing]");
  EXPECT_EQ(render("[{{ nulls | join(', ') | default('nothing') }}]"), "[nothing]");
  EXPECT_EQ(render("[{{ note | join(', ') }}]"), "[]");
  // A plain value is a list of one.
  EXPECT_EQ(render("{{ single | join(', ') }} {{ qty | join(', ') }}"), "Tee 4");
  EXPECT_EQ(render("{{ items | join(', ') | upper }}"), "TEE, MUG, ŁYŻKA");
}

TEST_F(TemplateTest, JoinRejectsWhatIsNoFlatList) {
  ctx_.after.set("broken", Value(std::string("[\"Tee\", ")));
  ctx_.after.set("nested", Value(std::string(R"(["Tee", {"sku": 1}])")));
  ctx_.after.set("trailing", Value(std::string("[1] [2]")));
  Status broken = renderError("{{ broken | join(', ') }}");
  EXPECT_EQ(broken.category(), ErrorCategory::kRejected);
  EXPECT_EQ(broken.message(), "template filter 'join': broken is '[\"Tee\", ', not a JSON array");
  EXPECT_EQ(renderError("{{ nested | join(', ') }}").message(),
            "template filter 'join': nested is '[\"Tee\", {\"sku\": 1}]', a list holding a "
            "list or an object");
  EXPECT_EQ(renderError("{{ trailing | join(', ') }}").message(),
            "template filter 'join': trailing is '[1] [2]', not a JSON array");
  // Unavailable is still an error, even with join in between.
  EXPECT_NE(renderError("{{ body | join(', ') }}").message().find("unavailable"),
            std::string::npos);
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
                 "unknown filter 'uper' (known filters: capitalize, date, default, join, lower, "
                 "money, replace, round, truncate, upper)"}});
  expectErrors("Items: {{ items | join }}", {{18, "filter 'join' takes 1 argument, got 0"}});
  expectErrors("{{ items | join(', ', 'and') }}", {{11, "filter 'join' takes 1 argument, got 2"}});
  // A constant list is joined now, so a broken one is a compile diagnostic too.
  expectErrors("{{ '[1, [2]]' | join(',') }}",
               {{3, "template filter 'join': '[1, [2]]' is a list holding a list or an object"}});
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
  expectErrors("{{ a | money }}", {{7, "filter 'money' takes 1 argument, got 0"}});
  expectErrors("{{ a | money(2, 3) }}", {{7, "filter 'money' takes 1 argument, got 2"}});
  expectErrors("{{ a | money(-1) }}", {{13, "the number of decimals must be a whole number"}});
  expectErrors("{{ 'abc' | money(2) }}", {{3, "template filter 'money': 'abc' is not a number"}});
}

TEST(TemplateCompileTest, DateArgumentsAreCheckedAtCompileTime) {
  const std::string bad_zone = "Shipped {{ shipped_at | date('%d.%m %H:%M', 'Europe/Warsw') }}";
  expectErrors(bad_zone, {{bad_zone.find("'Europe/Warsw'"),
                           "filter 'date': unknown time zone 'Europe/Warsw' (use an IANA name like "
                           "'Europe/Warsaw' or 'UTC')"}});
  EXPECT_EQ(bad_zone.find("'Europe/Warsw'"), 44u);
  // Fixed offsets ignore summer time, which is rarely what a message to a person wants.
  expectErrors("{{ a | date('%H', 'GMT+3') }}", {{18, "unknown time zone 'GMT+3'"}});
  expectErrors("{{ a | date('%H', '') }}", {{18, "unknown time zone ''"}});
  expectErrors("{{ a | date('%H', 1) }}", {{18, "the time zone must be text, got 1"}});
  expectErrors("{{ a | date('%d.%m.%Q') }}",
               {{12,
                 "filter 'date': unknown conversion '%Q' in the format (known: %Y %m %d %H %M %S "
                 "%y %b %a %e %j %p %I %%)"}});
  expectErrors("{{ a | date('100%') }}", {{12, "the format ends in a lone '%'"}});
  expectErrors("{{ a | date(5) }}", {{12, "the format must be text, got 5"}});
  expectErrors("{{ a | date }}", {{7, "filter 'date' takes 1 to 2 arguments, got 0"}});
  expectErrors("{{ a | date('%H', 'UTC', 1) }}", {{7, "takes 1 to 2 arguments, got 3"}});
  // A constant input is formatted now, so a broken one is a compile diagnostic too.
  expectErrors("{{ 'soon' | date('%H') }}",
               {{3, "template filter 'date': 'soon' is not a timestamp"}});
  auto folded = Template::compile("{{ '2024-07-01T12:00:00Z' | date('%H:%M', 'Europe/Warsaw') }}");
  ASSERT_TRUE(std::holds_alternative<Template>(folded));
  EXPECT_TRUE(std::get<Template>(folded).isConstant());
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
                                           "date(",
                                           "'%H:%M'",
                                           "'Europe/Warsaw'",
                                           "'2024-05-01 10:00'",
                                           "money(",
                                           "now()",
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
