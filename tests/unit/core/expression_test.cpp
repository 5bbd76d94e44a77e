#include "core/expression.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/value.h"
#include "tests/fakes/rows_context.h"

namespace smsbridge {
namespace {

using testing::describe;
using testing::RowsContext;

std::vector<ExprDiagnostic> compileErrors(std::string_view text) {
  auto compiled = Expression::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&compiled)) {
    return *diagnostics;
  }
  return {};
}

std::optional<Expression> compileOk(std::string_view text) {
  auto compiled = Expression::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&compiled)) {
    ADD_FAILURE() << "'" << text << "' failed to compile:\n" << describe(*diagnostics);
    return std::nullopt;
  }
  return std::get<Expression>(std::move(compiled));
}

class ExpressionTest : public ::testing::Test {
 protected:
  ExpressionTest() {
    ctx_.after = Row{{"id", 17},  {"status", "wc-completed"},  {"stock", "3"}, {"total", 120.5},
                     {"qty", 4},  {"note", Value()},           {"empty", ""},  {"active", true},
                     {"flag", 1}, {"body", UnavailableValue{}}};
    ctx_.before =
        Row{{"id", 17}, {"status", "wc-processing"}, {"stock", "7"},      {"total", 120.5},
            {"qty", 4}, {"note", Value()},           {"body", "old body"}};
    ctx_.lookup = Row{{"phone", "+48600100200"}, {"min", 5}, {"country", Value()}};
  }

  // The condition's outcome, failing the test on a compile or runtime error.
  bool holds(std::string_view text) {
    auto expression = compileOk(text);
    if (!expression) return false;
    auto result = expression->evaluateCondition(ctx_);
    if (!result) {
      ADD_FAILURE() << "'" << text << "': " << result.error().toString();
      return false;
    }
    return *result;
  }

  Value value(std::string_view text) {
    auto expression = compileOk(text);
    if (!expression) return Value();
    auto result = expression->evaluate(ctx_);
    if (!result) {
      ADD_FAILURE() << "'" << text << "': " << result.error().toString();
      return Value();
    }
    return *result;
  }

  Status runtimeError(std::string_view text) {
    auto expression = compileOk(text);
    if (!expression) return internalError("did not compile");
    auto result = expression->evaluate(ctx_);
    if (result) {
      ADD_FAILURE() << "'" << text << "' evaluated to " << result->toDebugString();
      return Status::ok();
    }
    return result.error();
  }

  RowsContext ctx_;
};

TEST_F(ExpressionTest, Literals) {
  EXPECT_EQ(value("'it\\'s'"), Value("it's"));
  EXPECT_EQ(value("\"say \\\"hi\\\"\""), Value("say \"hi\""));
  EXPECT_EQ(value("'a\\\\b\\n'"), Value("a\\b\n"));
  EXPECT_EQ(value("12"), Value(std::int64_t{12}));
  EXPECT_EQ(value("-12"), Value(std::int64_t{-12}));
  EXPECT_EQ(value("4.50"), Value(4.5));
  EXPECT_EQ(value("-0.5"), Value(-0.5));
  EXPECT_EQ(value("1e3"), Value(1000.0));
  EXPECT_EQ(value("true"), Value(true));
  EXPECT_EQ(value("false"), Value(false));
  EXPECT_TRUE(value("null").isNull());
  EXPECT_EQ(value("-9223372036854775808"), Value(std::numeric_limits<std::int64_t>::min()));
}

TEST_F(ExpressionTest, ReferencesReadAfterBeforeAndLookupRows) {
  EXPECT_EQ(value("status"), Value("wc-completed"));
  EXPECT_EQ(value("old.status"), Value("wc-processing"));
  EXPECT_EQ(value("lookup.phone"), Value("+48600100200"));
  EXPECT_TRUE(holds("status == 'wc-completed' and old.status != 'wc-completed'"));
}

TEST_F(ExpressionTest, EqualityOperators) {
  EXPECT_TRUE(holds("status == 'wc-completed'"));
  EXPECT_FALSE(holds("status != 'wc-completed'"));
  EXPECT_TRUE(holds("id == 17"));
  EXPECT_TRUE(holds("total == 120.5"));
  EXPECT_TRUE(holds("qty == 4.0"));
  EXPECT_TRUE(holds("\"double\" == 'double'"));
}

TEST_F(ExpressionTest, NumericStringsCompareAsNumbers) {
  EXPECT_TRUE(holds("stock < 5"));  // stock is the text "3"
  EXPECT_TRUE(holds("stock == 3"));
  EXPECT_TRUE(holds("stock == 3.0"));
  EXPECT_TRUE(holds("5 > stock"));
  // Both sides numeric text: ordered as numbers ("7" > "3"), while lexicographically "10" < "9".
  EXPECT_TRUE(holds("old.stock > stock"));
  EXPECT_TRUE(holds("'10' > '9'"));
  // Equality of two texts stays textual.
  EXPECT_FALSE(holds("'5.0' == '5'"));
}

TEST_F(ExpressionTest, OrderingOperators) {
  EXPECT_TRUE(holds("qty < 5"));
  EXPECT_FALSE(holds("qty < 4"));
  EXPECT_TRUE(holds("qty <= 4"));
  EXPECT_FALSE(holds("qty <= 3"));
  EXPECT_TRUE(holds("qty > 3"));
  EXPECT_FALSE(holds("qty > 4"));
  EXPECT_TRUE(holds("qty >= 4"));
  EXPECT_FALSE(holds("qty >= 5"));
  EXPECT_TRUE(holds("total > 120"));
  EXPECT_TRUE(holds("9007199254740993 > 9007199254740992"));  // integers compare exactly
  EXPECT_TRUE(holds("'apple' < 'banana'"));
  EXPECT_TRUE(holds("'Zebra' < 'apple'"));  // bytewise
  EXPECT_TRUE(holds("status >= 'wc-a'"));
}

TEST_F(ExpressionTest, NullSemantics) {
  EXPECT_TRUE(holds("note == null"));
  EXPECT_TRUE(holds("null == null"));
  EXPECT_FALSE(holds("note == 0"));
  EXPECT_FALSE(holds("note == ''"));
  EXPECT_TRUE(holds("note != 'x'"));
  EXPECT_FALSE(holds("note < 5"));
  EXPECT_FALSE(holds("note >= 5"));
  EXPECT_FALSE(holds("5 > note"));
  EXPECT_FALSE(holds("note"));
  EXPECT_TRUE(holds("not note"));
  EXPECT_TRUE(holds("note is null"));
  EXPECT_FALSE(holds("note is not null"));
  EXPECT_TRUE(holds("status is not null"));
  EXPECT_FALSE(holds("empty is null"));
}

TEST_F(ExpressionTest, BooleansEqualTheirDatabaseSpellings) {
  EXPECT_TRUE(holds("active == true"));
  EXPECT_TRUE(holds("flag == true"));  // MySQL tinyint(1)
  EXPECT_TRUE(holds("'t' == true"));   // PostgreSQL text format
  EXPECT_TRUE(holds("'false' == false"));
  EXPECT_FALSE(holds("'yes' == true"));
  EXPECT_FALSE(holds("qty == true"));
}

TEST_F(ExpressionTest, Truthiness) {
  EXPECT_TRUE(holds("active"));
  EXPECT_TRUE(holds("flag"));
  EXPECT_TRUE(holds("status"));
  EXPECT_FALSE(holds("empty"));
  EXPECT_FALSE(holds("coalesce(note, 0)"));
  EXPECT_TRUE(holds("coalesce(note, 0.5)"));
}

TEST_F(ExpressionTest, LogicalOperators) {
  EXPECT_TRUE(holds("true and true"));
  EXPECT_FALSE(holds("true and false"));
  EXPECT_TRUE(holds("false or true"));
  EXPECT_FALSE(holds("false or false"));
  EXPECT_FALSE(holds("not true"));
  EXPECT_TRUE(holds("not not true"));
  EXPECT_TRUE(holds("qty == 1 or qty == 2 or qty == 3 or qty == 4"));
  EXPECT_FALSE(holds("qty > 1 and qty > 2 and qty > 3 and qty > 4"));
}

TEST_F(ExpressionTest, Precedence) {
  // and binds tighter than or: true or (false and false).
  EXPECT_TRUE(holds("true or false and false"));
  EXPECT_FALSE(holds("(true or false) and false"));
  // not binds looser than comparisons: not (qty == 5).
  EXPECT_TRUE(holds("not qty == 5"));
  // ...and tighter than and/or: (not false) and true.
  EXPECT_TRUE(holds("not false and true"));
  EXPECT_TRUE(holds("qty == 4 and status == 'x' or id == 17"));
  EXPECT_FALSE(holds("qty == 4 and (status == 'x' or id == 18)"));
}

TEST_F(ExpressionTest, AndOrShortCircuit) {
  // The missing field on the untaken branch is never read.
  EXPECT_TRUE(holds("true or missing == 1"));
  EXPECT_FALSE(holds("false and missing == 1"));
  EXPECT_EQ(value("coalesce(status, missing)"), Value("wc-completed"));
}

TEST_F(ExpressionTest, InAndNotIn) {
  EXPECT_TRUE(holds("status in ['wc-completed', 'wc-shipped']"));
  EXPECT_FALSE(holds("status in ['wc-cancelled']"));
  EXPECT_TRUE(holds("status not in ['wc-cancelled', 'wc-refunded',]"));
  EXPECT_FALSE(holds("status not in ['wc-completed']"));
  EXPECT_TRUE(holds("stock in [1, 2, 3]"));
  EXPECT_TRUE(holds("note in [null]"));
  EXPECT_FALSE(holds("qty in []"));
  EXPECT_TRUE(holds("qty in [old.qty, 99]"));
}

TEST_F(ExpressionTest, Changed) {
  EXPECT_TRUE(holds("changed(status)"));
  EXPECT_TRUE(holds("changed(stock)"));
  EXPECT_FALSE(holds("changed(total)"));
  EXPECT_FALSE(holds("changed(note)"));  // null to null
  // A value the source did not send is one that did not change.
  EXPECT_FALSE(holds("changed(body)"));
  // The column is absent from the before-image, as with a key-only before-image.
  EXPECT_FALSE(holds("changed(active)"));
  ctx_.before.reset();  // an insert
  EXPECT_FALSE(holds("changed(status)"));
}

TEST_F(ExpressionTest, ChangedErrors) {
  Status missing = runtimeError("changed(phone)");
  EXPECT_EQ(missing.category(), ErrorCategory::kRejected);
  EXPECT_EQ(missing.message(), "field 'phone' does not exist");
  ctx_.before->set("status", UnavailableValue{});
  EXPECT_EQ(runtimeError("changed(status)").message(),
            "field 'old.status' is unavailable (not sent by the source)");
}

TEST_F(ExpressionTest, CrossedBelowAndAbove) {
  ctx_.before->set("stock", "5");
  ctx_.after.set("stock", "4");
  EXPECT_TRUE(holds("crossed_below(stock, 5)"));  // old 5 >= 5, now 4 < 5
  EXPECT_FALSE(holds("crossed_below(stock, 4)"));
  EXPECT_TRUE(holds("crossed_below(stock, lookup.min)"));
  EXPECT_FALSE(holds("crossed_above(stock, 4)"));

  ctx_.before->set("stock", "4");
  ctx_.after.set("stock", "5");
  EXPECT_TRUE(holds("crossed_above(stock, 4)"));  // old 4 <= 4, now 5 > 4
  EXPECT_FALSE(holds("crossed_above(stock, 5)"));
  EXPECT_FALSE(holds("crossed_below(stock, 5)"));

  // Already below stays silent: no second SMS for every sale after the threshold.
  ctx_.before->set("stock", "3");
  ctx_.after.set("stock", "2");
  EXPECT_FALSE(holds("crossed_below(stock, 5)"));

  ctx_.before->set("stock", "5");
  ctx_.after.set("stock", Value());  // ordering with null is false
  EXPECT_FALSE(holds("crossed_below(stock, 5)"));

  ctx_.before.reset();
  EXPECT_FALSE(holds("crossed_below(stock, 5)"));
  EXPECT_FALSE(holds("crossed_above(stock, 5)"));
}

TEST_F(ExpressionTest, Coalesce) {
  EXPECT_EQ(value("coalesce(note, lookup.country, 'PL')"), Value("PL"));
  EXPECT_EQ(value("coalesce(status, 'x')"), Value("wc-completed"));
  EXPECT_TRUE(value("coalesce(note, null)").isNull());
  EXPECT_EQ(value("coalesce(empty, 'x')"), Value(""));  // empty text is not null
}

TEST_F(ExpressionTest, MissingAndUnavailableFieldsAreRejectedByName) {
  Status missing = runtimeError("phone == 'x'");
  EXPECT_EQ(missing.category(), ErrorCategory::kRejected);
  EXPECT_EQ(missing.message(), "field 'phone' does not exist");
  EXPECT_EQ(runtimeError("lookup.email is null").message(), "field 'lookup.email' does not exist");

  ctx_.before->set("status", UnavailableValue{});
  Status unavailable = runtimeError("old.status != 'x'");
  EXPECT_EQ(unavailable.category(), ErrorCategory::kRejected);
  EXPECT_EQ(unavailable.message(), "field 'old.status' is unavailable (not sent by the source)");
  EXPECT_EQ(runtimeError("body").message(), "field 'body' is unavailable (not sent by the source)");

  ctx_.before.reset();
  EXPECT_EQ(runtimeError("old.status == 'x'").message(), "field 'old.status' does not exist");
  auto condition = compileOk("missing");
  ASSERT_TRUE(condition);
  EXPECT_FALSE(condition->evaluateCondition(ctx_).has_value());
}

TEST_F(ExpressionTest, OrderingAgainstTextThatIsNoNumberIsRejected) {
  ctx_.after.set("stock", "n/a");
  Status error = runtimeError("stock < 5");
  EXPECT_EQ(error.category(), ErrorCategory::kRejected);
  EXPECT_EQ(error.message(), "cannot compare stock ('n/a') with 5 using '<': not a number");
  EXPECT_EQ(runtimeError("active > 0").message(),
            "cannot compare active (true) with 0 using '>': booleans have no order");
  ctx_.before->set("stock", "x");
  EXPECT_EQ(runtimeError("crossed_below(stock, 5)").message(),
            "cannot compare old.stock ('x') with 5 using '>=': not a number");
}

TEST_F(ExpressionTest, ReferencedFields) {
  auto e = compileOk(
      "status == 'x' and old.status != 'x' and changed(total) or lookup.phone is not null "
      "and status in [lookup.min, 2] and crossed_below(stock, lookup.min)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->referencedFields(),
            (std::vector<std::string>{"status", "old.status", "total", "old.total", "lookup.phone",
                                      "lookup.min", "stock", "old.stock"}));
  EXPECT_EQ(e->text(),
            "status == 'x' and old.status != 'x' and changed(total) or lookup.phone is not null "
            "and status in [lookup.min, 2] and crossed_below(stock, lookup.min)");
  auto constant = compileOk("1 == 1");
  ASSERT_TRUE(constant);
  EXPECT_TRUE(constant->referencedFields().empty());
}

TEST_F(ExpressionTest, Matches) {
  EXPECT_TRUE(holds("lookup.phone matches '^\\\\+48'"));  // the text is '^\\+48'
  EXPECT_FALSE(holds("lookup.phone matches '^\\\\+49'"));
  EXPECT_TRUE(holds("lookup.phone matches '^[+]48[0-9]{9}$'"));
  EXPECT_TRUE(holds("status matches 'completed'"));  // found anywhere unless anchored
  EXPECT_FALSE(holds("status matches '^completed'"));
  EXPECT_TRUE(holds("status matches \"(?i)^WC-\""));
  EXPECT_TRUE(holds("id matches '^1[0-9]$'"));  // a number matches as it renders
  EXPECT_TRUE(holds("total matches '^120\\\\.5$'"));
  EXPECT_TRUE(holds("'łódź' matches '^.{4}$'"));  // characters, not bytes
  EXPECT_TRUE(holds("status not matches '^wc-cancel'"));
  EXPECT_FALSE(holds("status not matches '^wc-'"));
  EXPECT_TRUE(holds("empty matches '^$'"));
}

TEST_F(ExpressionTest, MatchesOnNullIsFalse) {
  EXPECT_FALSE(holds("note matches ''"));
  EXPECT_FALSE(holds("note matches '.*'"));
  EXPECT_TRUE(holds("note not matches 'x'"));  // the negation of the above
  EXPECT_FALSE(holds("lookup.country matches '^PL$'"));
}

TEST_F(ExpressionTest, MatchesCombinesWithOtherOperators) {
  EXPECT_TRUE(holds("lookup.phone matches '^[+]48' and status == 'wc-completed'"));
  EXPECT_TRUE(holds("not status matches '^x' or false"));
  EXPECT_EQ(runtimeError("missing matches 'x'").message(), "field 'missing' does not exist");
  EXPECT_EQ(runtimeError("body matches 'x'").message(),
            "field 'body' is unavailable (not sent by the source)");
  auto e = compileOk("lookup.phone matches '^[+]48' or old.status not matches 'x'");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->referencedFields(), (std::vector<std::string>{"lookup.phone", "old.status"}));
}

TEST_F(ExpressionTest, AColumnNamedMatchesStillWorks) {
  ctx_.after.set("matches", "3");
  EXPECT_TRUE(holds("matches == 3"));
  EXPECT_TRUE(holds("matches matches '^3$'"));
  EXPECT_TRUE(holds("qty in [matches, 4]"));
}

// A backtracking engine needs about 2^n steps for this pattern on n a's and a mismatch; RE2
// needs time linear in the text, so this test finishes at once instead of never.
TEST_F(ExpressionTest, PathologicalPatternsStayLinear) {
  ctx_.after.set("long", std::string(100000, 'a') + "!");
  EXPECT_FALSE(holds("long matches '^(a+)+$'"));
  EXPECT_FALSE(holds("long matches '^(a|aa)*$'"));
  EXPECT_FALSE(holds("long matches '(a*)*b'"));
  EXPECT_TRUE(holds("long matches '^(a+)+!$'"));
}

TEST_F(ExpressionTest, NowReadsTheContextClock) {
  using namespace std::chrono;
  ctx_.clock =
      sys_days{year{2024} / 3 / 31} + hours{1} + minutes{2} + seconds{3} + milliseconds{456};
  EXPECT_EQ(value("now()"), Value("2024-03-31T01:02:03.456Z"));
  EXPECT_TRUE(holds("now() > '2024-03-31T01:02:03.455Z'"));
  EXPECT_TRUE(holds("now() < '2024-03-31T01:02:03.457Z'"));
  EXPECT_TRUE(holds("now() > '2024-03-31'"));  // a date alone sorts before its times
  EXPECT_TRUE(holds("now() < '2024-04-01'"));

  // Evaluated on every call, never folded at compile time.
  auto e = compileOk("now() >= '2024-04-01T00:00:00.000Z'");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->isConstant());
  EXPECT_TRUE(e->referencedFields().empty());
  EXPECT_FALSE(*e->evaluateCondition(ctx_));
  *ctx_.clock += hours{23};
  EXPECT_TRUE(*e->evaluateCondition(ctx_));

  // Milliseconds are cut, not rounded; before 1970 the form stays the same.
  ctx_.clock = sys_days{year{2024} / 3 / 31} + microseconds{999999};
  EXPECT_EQ(value("now()"), Value("2024-03-31T00:00:00.999Z"));
  ctx_.clock = sys_days{year{1970} / 1 / 1} - milliseconds{1};
  EXPECT_EQ(value("now()"), Value("1969-12-31T23:59:59.999Z"));
}

TEST_F(ExpressionTest, NowWithoutAnInjectedClockIsTheSystemTime) {
  EXPECT_TRUE(
      holds("now() matches '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
            "[.][0-9]{3}Z$'"));
  EXPECT_TRUE(holds("now() > '2024-01-01'"));
}

TEST(ExpressionConstantTest, IsConstantWhenNothingComesFromTheContext) {
  for (const auto& [text, constant] : std::vector<std::pair<std::string, bool>>{
           {"1 == 1", true},
           {"coalesce(null, 'x') matches 'x'", true},
           {"status", false},
           {"now()", false},
           {"coalesce('x', now())", false},
       }) {
    auto e = compileOk(text);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->isConstant(), constant) << text;
  }
}

TEST_F(ExpressionTest, KeywordsAreAllowedAfterADot) {
  ctx_.lookup.set("in", "yes");
  EXPECT_EQ(value("lookup.in"), Value("yes"));
}

TEST_F(ExpressionTest, CopiesShareTheCompiledTree) {
  auto e = compileOk("qty == 4");
  ASSERT_TRUE(e);
  Expression copy = *e;
  e.reset();
  auto result = copy.evaluateCondition(ctx_);
  ASSERT_TRUE(result);
  EXPECT_TRUE(*result);
}

// --- compile errors ------------------------------------------------------------------------

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

TEST(ExpressionCompileTest, SyntaxErrorsArePositioned) {
  expectErrors("", {{0, "expected a value, got the end of the expression"}});
  expectErrors("status == ", {{10, "expected a value"}});
  expectErrors("status = 'x'", {{7, "use '==' to compare"}});
  expectErrors("a and (b or c", {{13, "expected ')'"}});
  expectErrors("'abc", {{0, "unterminated string"}});
  expectErrors("a == 'x\\q'", {{7, "unknown escape '\\q'"}});
  expectErrors("a @ b", {{2, "unexpected character '@'"}});
  expectErrors("a == 12abc", {{5, "'12abc' is not a number"}});
  expectErrors("a == 5.", {{5, "'5.' is not a number"}});
  expectErrors("a == 99999999999999999999", {{5, "integer 99999999999999999999 is out of range"}});
  expectErrors("a < b < c", {{6, "comparisons cannot be chained"}});
  expectErrors("a is 5", {{5, "expected 'null' after 'is'"}});
  expectErrors("a is not", {{8, "expected 'null' after 'is not'"}});
  expectErrors("a not b", {{2, "'not' after a value must be followed by 'in' or 'matches'"}});
  expectErrors("old.", {{4, "expected a field name after '.'"}});
  expectErrors("a b", {{2, "unexpected 'b'"}});
  expectErrors("x | upper", {{2, "filters ('|') are only allowed in templates"}});
  expectErrors("a == -b", {{5, "'-' must be followed by a number"}});
  expectErrors("coalesce(a b, c)", {{11, "expected ',' or ')', got 'b'"}});
  expectErrors("x in [1 2]", {{8, "expected ',' or ']', got the number 2"}});
}

TEST(ExpressionCompileTest, HintsForOtherLanguagesSpellings) {
  expectErrors("a && b", {{2, "use 'and'"}});
  expectErrors("a || b", {{2, "use 'or'"}});
  expectErrors("!a", {{0, "use 'not'"}});
  expectErrors("a <> b", {{2, "use '!='"}});
  expectErrors("a AND b", {{2, "keywords are lowercase: write 'and' instead of 'AND'"}});
  expectErrors("a == NULL", {{5, "write 'null'"}});
  expectErrors("NOT a", {{0, "write 'not'"}});
}

TEST(ExpressionCompileTest, FunctionsAreCheckedAtCompileTime) {
  expectErrors("foo(x)", {{0,
                           "unknown function 'foo' (known functions: changed, coalesce, "
                           "crossed_above, crossed_below, now)"}});
  expectErrors("now(1)", {{0, "'now' takes 0 arguments, got 1"}});
  expectErrors("x and changed(a, b)", {{6, "'changed' takes 1 argument, got 2"}});
  expectErrors("crossed_below(stock)", {{0, "'crossed_below' takes 2 arguments, got 1"}});
  expectErrors("coalesce(a)", {{0, "'coalesce' takes at least 2 arguments, got 1"}});
  expectErrors("changed(old.status)", {{8, "must be a column name, like: changed(status)"}});
  expectErrors("changed('status')", {{8, "must be a column name"}});
  expectErrors("crossed_above(lookup.min, 3)", {{14, "must be a column name"}});
  expectErrors("crossed_below(stock, 'low')",
               {{21, "the threshold of 'crossed_below' must be a number"}});
  expectErrors("crossed_below(stock, true)", {{21, "must be a number"}});
  EXPECT_TRUE(compileErrors("crossed_below(stock, '5')").empty());
}

TEST(ExpressionCompileTest, TypeErrorsDecidableFromLiterals) {
  expectErrors("'abc' < 5", {{0, "cannot compare the string 'abc' with a number using '<'"}});
  expectErrors("5 >= 'many'", {{5, "cannot compare a number with the string 'many'"}});
  expectErrors("coalesce(1, 2) > 'x'", {{17, "cannot compare a number with the string 'x'"}});
  expectErrors("true < 3", {{0, "'<' cannot order booleans"}});
  expectErrors("stock < null", {{8, "'<' with null is always false; use 'is null'"}});
  expectErrors("5 == 'five'", {{5, "is always false"}});
  expectErrors("5 != 'five'", {{5, "is always true"}});
  expectErrors("not 'abc'", {{4, "'not' expects a condition, got the string 'abc'"}});
  expectErrors("status == 'a' or 'b'",
               {{17,
                 "'or' expects a condition, got the string 'b'; to match one of several "
                 "values write: field in ['a', 'b']"}});
  expectErrors("a and 1", {{6, "'and' expects a condition, got the number 1"}});
  expectErrors("a or null", {{5, "got null"}});
  expectErrors("x in y", {{5, "'in' needs a list in brackets"}});
  expectErrors("x not in 'abc'", {{9, "'not in' needs a list in brackets"}});
  expectErrors("[1, 2]", {{0, "a list is only allowed after 'in'"}});
  expectErrors("x in [[1], 2]", {{6, "a list is only allowed after 'in'"}});
  // Numeric text is a number to the comparison, as it is at run time.
  EXPECT_TRUE(compileErrors("'3' < 5").empty());
  EXPECT_TRUE(compileErrors("stock < 'abc'").empty());  // stock may be text
  EXPECT_TRUE(compileErrors("true and x").empty());
}

TEST(ExpressionCompileTest, MatchesPatternsAreCompiledWithTheExpression) {
  // RE2 names the part it rejects; the diagnostic points at it inside the literal.
  expectErrors("phone matches '(abc'",
               {{15, "invalid regular expression '(abc': missing ): (abc"}});
  expectErrors("phone matches 'ab[c'", {{17, "invalid regular expression 'ab[c': missing ]"}});
  expectErrors("x matches 'a**'", {{12, "bad repetition operator: **"}});
  // Offsets count source characters: each escaped backslash before the error takes two.
  expectErrors("x matches '\\\\d\\\\q'", {{14, "invalid escape sequence: \\q"}});
  expectErrors("x matches \"\\\\d\\\\q\"", {{14, "invalid escape sequence"}});
  expectErrors("x matches 'a{1001}'", {{12, "invalid repetition size: {1001}"}});

  expectErrors("phone matches lookup.prefix",
               {{14,
                 "'matches' needs the pattern as a string literal, like: phone matches "
                 "'^\\\\+48'"}});
  expectErrors("phone not matches 5",
               {{18, "'not matches' needs the pattern as a string literal"}});
  expectErrors("phone matches", {{13, "expected a value, got the end of the expression"}});
  expectErrors("a matches 'x' matches 'y'", {{14, "comparisons cannot be chained"}});
  expectErrors("a MATCHES 'x'", {{2, "unexpected 'MATCHES'"}});
  // One bad pattern does not hide the next problem.
  expectErrors("a matches '(' or foo()", {{11, "missing )"}, {17, "unknown function 'foo'"}});
}

TEST(ExpressionCompileTest, ReportsEveryProblemAtOnceInOrder) {
  const std::string text = "foo(a) or 'abc' < 5 or changed(b.c) or x in y";
  expectErrors(text, {{0, "unknown function 'foo'"},
                      {text.find("'abc'"), "cannot compare the string 'abc'"},
                      {text.find("b.c"), "must be a column name"},
                      {text.size() - 1, "needs a list"}});
  // Syntax errors in separate list items and chain operands are each reported once.
  const std::string broken = "f(a b, c d) and (x ==) and y = 1";
  expectErrors(broken, {{0, "unknown function 'f'"},
                        {4, "expected ',' or ')', got 'b'"},
                        {9, "expected ',' or ')', got 'd'"},
                        {broken.find("==)") + 2, "expected a value, got ')'"},
                        {broken.find("= 1"), "use '=='"}});
}

TEST(ExpressionCompileTest, NestingIsBounded) {
  const auto nested = [](int depth) {
    return std::string(depth, '(') + "a" + std::string(depth, ')');
  };
  EXPECT_TRUE(compileErrors(nested(kMaxExpressionNesting)).empty());
  expectErrors(nested(kMaxExpressionNesting + 1),
               {{static_cast<std::size_t>(kMaxExpressionNesting), "nested too deeply"}});
  // Far beyond the limit: one diagnostic, no stack exhaustion.
  expectErrors(nested(100000), {{64, "nested too deeply"}});

  std::string nots;
  for (int i = 0; i < 100000; ++i) nots += "not ";
  expectErrors(nots + "a", {{256, "nested too deeply"}});
  expectErrors(std::string(100000, '['), {{64, "nested too deeply"}});
  std::string calls;
  for (int i = 0; i < 100000; ++i) calls += "coalesce(";
  expectErrors(calls, {{64 * 9 + 8, "nested too deeply"}});  // the 65th '('
}

TEST_F(ExpressionTest, LongFlatChainsAreNotNesting) {
  std::string text = "qty == 4";
  for (int i = 0; i < 100000; ++i) text += " and qty == 4";
  EXPECT_TRUE(holds(text));
  std::string ors = "qty == 0";
  for (int i = 0; i < 100000; ++i) ors += " or qty == 0";
  EXPECT_FALSE(holds(ors));
}

// Garbage must produce diagnostics (with offsets inside the text), never a crash, a throw or a
// hang; whatever compiles must evaluate to a value or an error.
TEST_F(ExpressionTest, GarbageNeverCrashesCompileOrEvaluate) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> pieces = {"status",
                                           "old.status",
                                           "lookup.phone",
                                           "qty",
                                           "stock",
                                           "note",
                                           "body",
                                           "missing",
                                           "'x'",
                                           "\"y\"",
                                           "'",
                                           "\"",
                                           "\\",
                                           "12",
                                           "-3",
                                           "4.5",
                                           "1e9",
                                           "true",
                                           "false",
                                           "null",
                                           "and",
                                           "or",
                                           "not",
                                           "in",
                                           "is",
                                           "==",
                                           "!=",
                                           "<",
                                           "<=",
                                           ">",
                                           ">=",
                                           "=",
                                           "!",
                                           "(",
                                           ")",
                                           "[",
                                           "]",
                                           ",",
                                           ".",
                                           "-",
                                           "|",
                                           "&&",
                                           "changed(",
                                           "crossed_below(",
                                           "crossed_above(",
                                           "coalesce(",
                                           "now()",
                                           "matches",
                                           "'^a+$'",
                                           "'(('",
                                           "foo(",
                                           " ",
                                           "\n",
                                           "{{",
                                           "}}",
                                           "ł",
                                           "\xff",
                                           "\xc3",
                                           std::string(1, '\0'),
                                           "@",
                                           "AND",
                                           "NULL"};
  int compiled = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string text;
    const int length = static_cast<int>(rng() % 16);
    if (round % 3 == 0) {
      for (int i = 0; i < length * 2; ++i) text += static_cast<char>(rng() % 256);
    } else {
      for (int i = 0; i < length; ++i) {
        text += pieces[rng() % pieces.size()];
        if (rng() % 2) text += ' ';
      }
    }
    auto result = Expression::compile(text);
    if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&result)) {
      ASSERT_FALSE(diagnostics->empty());
      for (const auto& d : *diagnostics) {
        ASSERT_LE(d.offset, text.size()) << text;
        ASSERT_FALSE(d.message.empty());
      }
      continue;
    }
    ++compiled;
    const Expression& e = std::get<Expression>(result);
    auto value = e.evaluate(ctx_);
    if (!value) {
      EXPECT_EQ(value.error().category(), ErrorCategory::kRejected) << text;
    }
    (void)e.evaluateCondition(ctx_);
    (void)e.referencedFields();
  }
  EXPECT_GT(compiled, 100);  // the soup does produce valid expressions too
}

TEST(ExpressionEmbeddedTest, StopsAtTheFirstTokenThatCannotContinue) {
  const std::string source = "{{ old.status == 'a' | upper }}";
  const auto e = Expression::compileEmbedded(source, 2, source.size() - 2);
  ASSERT_TRUE(e.diagnostics.empty()) << describe(e.diagnostics);
  ASSERT_TRUE(e.expression);
  EXPECT_EQ(e.begin, 3u);
  EXPECT_EQ(e.end, source.find('|'));
  EXPECT_EQ(e.expression->text(), "old.status == 'a'");
  EXPECT_EQ(e.expression->referencedFields(), std::vector<std::string>{"old.status"});

  const std::string broken = "Hi {{ a == }}";
  const auto bad = Expression::compileEmbedded(broken, 5, broken.size() - 2);
  ASSERT_EQ(bad.diagnostics.size(), 1u);
  EXPECT_EQ(bad.diagnostics[0].offset, 11u);  // offsets are into the host text
  EXPECT_FALSE(bad.expression);
}

}  // namespace
}  // namespace smsbridge
