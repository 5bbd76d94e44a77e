#pragma once

// The `when` expression language of mappings, compiled once at config load and evaluated for
// every change event.
//
//   status == 'wc-completed' and old.status != 'wc-completed'
//   crossed_below(stock, 5) or (status in ['cancelled', 'refunded'] and total >= 100)
//
// Grammar, loosest binding first:
//   or:          and ('or' and)*
//   and:         not ('and' not)*
//   not:         'not' not | comparison
//   comparison:  primary [ ('=='|'!='|'<'|'<='|'>'|'>=') primary
//                        | ['not'] 'in' '[' [expr (',' expr)* [',']] ']'
//                        | ['not'] 'matches' string-literal
//                        | 'is' ['not'] 'null' ]          -- comparisons do not chain
//   primary:     literal | ['-'] number | path | name '(' [expr (',' expr)*] ')' | '(' expr ')'
//   literal:     'text' | "text" (escapes \\ \' \" \n \t) | 12 | 4.50 | true | false | null
//   path:        name ('.' name)*                          -- status, old.status, billing.phone
// Keywords are lowercase; `matches` is an operator only after a value, so a column named
// "matches" still reads as a field. Functions: changed(col), crossed_below(col, n),
// crossed_above(col, n), coalesce(a, b, ...), now().
//
// Values (what a demanding user expects from database rows, where numbers often arrive as text):
//   - `==`/`!=`: null equals only null; numbers compare numerically, also against a string that
//     reads fully as a number ("3" == 3); a boolean equals 1/0 and "true"/"false"/"t"/"f";
//     two strings compare byte for byte ("5.0" != "5": text columns are compared as text).
//   - `<`, `<=`, `>`, `>=`: false when either side is null; numerically when both sides are
//     numbers or numeric strings (stock < 5 with stock "3"); otherwise two strings compare
//     lexicographically by bytes; anything else (a boolean, 'abc' < 5) is a runtime error.
//   - Truthiness (and/or/not, evaluateCondition): null false, booleans as is, numbers != 0,
//     strings non-empty.
//   - Reading a field that does not exist, or that the source did not send (unavailable), is an
//     error naming the field. `and`/`or`/`coalesce` short-circuit, so a branch never taken
//     reads nothing.
//   - changed(col): col differs from old.col; false when old.col does not exist (no
//     before-image) or when col is unavailable (sources omit exactly the values that did not
//     change). crossed_below(col, n): old.col >= n and col < n; crossed_above(col, n):
//     old.col <= n and col > n; both false without a before-image.
//   - `x matches 'regex'`: whether the regex (RE2 syntax) matches somewhere in x's text (numbers
//     as they render; use ^ and $ to anchor, (?i) to ignore case). The pattern must be a string
//     literal: it is compiled with the expression, so a bad one is a compile diagnostic, and
//     RE2 matches in time linear in the text, so no pattern or value can hang the bridge. The
//     expression language has its own escapes, so a regex backslash is written twice:
//     phone matches '^\\+48'. A null x matches nothing (`not matches` is the negation, so it
//     holds for null).
//   - now(): the current time from EvalContext::now() as ISO-8601 UTC with milliseconds,
//     "2026-11-22T10:15:00.123Z". Fixed width, so it orders correctly against other UTC
//     timestamps in the same form with plain text comparison (`expires_at < now()`), and a
//     date alone ("2026-11-22") sorts before every time of that day. Timestamps in local time
//     or written with a space instead of 'T' do not compare meaningfully with it.
//
// Compile reports every problem it can find at once (syntax, unknown functions and arities,
// type errors decidable from literals such as 'abc' < 5 or `x == 'a' or 'b'`), each with the
// byte offset where it is. Nesting deeper than kMaxExpressionNesting is rejected at compile
// time, so evaluation recursion is bounded. Nothing here throws.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/value.h"

namespace smsbridge {

inline constexpr int kMaxExpressionNesting = 64;

struct ExprDiagnostic {
  std::size_t offset;  // 0-based byte offset into the compiled text
  std::string message;
};

// Where an expression reads its fields from. A mapping implements it over the event's after
// (unprefixed paths) and before ({"old", col}) rows and its lookups ({"billing", "phone"}).
class EvalContext {
 public:
  virtual ~EvalContext();
  // The value at `path`, or nullptr when there is no such field. The pointer is only read
  // during the evaluate call that asked for it.
  virtual const Value* resolve(std::span<const std::string> path) const = 0;
  // What now() returns; the system clock unless overridden. Tests inject time here, and a
  // context that evaluates several expressions for one event may return one fixed instant so
  // they all agree.
  virtual std::chrono::system_clock::time_point now() const;
};

struct EmbeddedExpression;

// A compiled expression. Immutable and cheap to copy (the syntax tree is shared), so one
// instance may be evaluated from several threads at once.
class Expression {
 public:
  static std::variant<Expression, std::vector<ExprDiagnostic>> compile(std::string_view text);

  // For hosts that embed expressions in a larger text (template placeholders, filter
  // arguments): parses one expression from `begin`, stopping before the first token that
  // cannot continue it (such as '|', ',' or ')') or at `end`. Offsets, including those of
  // diagnostics, are into `source`.
  static EmbeddedExpression compileEmbedded(std::string_view source, std::size_t begin,
                                            std::size_t end);

  // Runtime errors are kRejected and name the field or the operands involved.
  Result<Value> evaluate(const EvalContext& context) const;
  Result<bool> evaluateCondition(const EvalContext& context) const;

  // Dotted paths the expression may read ("status", "old.status", "billing.phone"), each once,
  // in order of first appearance. changed(col) and crossed_*(col, n) read col and old.col.
  std::vector<std::string> referencedFields() const;

  // True when the value depends on nothing the context provides (no field, no clock), so a
  // host may evaluate it once, at compile time.
  bool isConstant() const;

  // The source text of the expression (for an embedded one: its slice of the host text).
  const std::string& text() const;

 private:
  friend class Template;

  // Options a host language adds on top of the plain semantics.
  struct EvalOptions {
    // Read a field that does not exist as null instead of failing: the template filter
    // `default` supplies the fallback itself.
    bool missing_as_null = false;
    // Names fields in error messages: "field 'x' does not exist".
    std::string_view field_noun = "field";
  };
  Result<Value> evaluateWith(const EvalContext& context, const EvalOptions& options) const;

  struct Compiled;
  explicit Expression(std::shared_ptr<const Compiled> compiled);

  std::shared_ptr<const Compiled> compiled_;
};

struct EmbeddedExpression {
  std::optional<Expression> expression;     // set exactly when diagnostics is empty
  std::vector<ExprDiagnostic> diagnostics;  // offsets into the host text
  std::size_t begin = 0;                    // offset of the expression's first token
  std::size_t end = 0;  // offset of the first token not consumed (or the range end)
};

}  // namespace smsbridge
