#pragma once

// Message templates of mappings (`to`, `region`, `text`, `dedup`, ...), compiled once at config
// load and rendered for every matching change event.
//
//   Hi {{ billing.first_name | capitalize }}, order #{{ id }} is on its way.
//   {{ billing.country | default('PL') }}
//
// Text outside `{{ ... }}` is copied as is; `}}` alone needs no escape, and a literal `{{` is
// written as the expression {{ '{{' }}. A placeholder is an expression of the `when` language
// (core/expression.h) followed by filters: {{ expr | filter | filter(arg, ...) }}, where each
// argument is an expression too.
//
// Filters (names and argument counts are checked at compile time):
//   default(x)     x when the value is null, the empty string, or a field the expression reads
//                  does not exist (a lookup that found no row). It does not cover a value the
//                  source did not send (unavailable): that is still an error, since the real
//                  value exists and the fallback would be a lie.
//   upper, lower   Unicode case mapping (locale independent): "łódź" → "ŁÓDŹ".
//   capitalize     first character title case, the rest lower case: "aNNA" → "Anna".
//   truncate(n)    at most n characters (code points, never a split one). No ellipsis is
//                  added: "…" would switch the SMS to UCS-2 and "..." costs three characters.
//   replace(a, b)  every occurrence of the text a replaced by b.
//   join(sep)      the elements of a list, separated by sep: '["Tee", "Mug"]' | join(', ')
//                  → "Tee, Mug". Values have no list type of their own; a list is text
//                  holding a JSON array, which is what a JSON column (PostgreSQL json/jsonb,
//                  MySQL JSON, SQLite JSON text) hands over and what a lookup returns for
//                  several rows aggregated in its SQL (json_agg, JSON_ARRAYAGG,
//                  json_group_array): one round trip, one value. Strings are joined as they
//                  are, numbers as written, null elements are left out, and a list with
//                  nothing left renders as null (so `| default('none')` applies). Any other
//                  value is a list of one and renders as itself. Text that starts with '['
//                  but is no flat JSON array (broken, or holding arrays or objects) rejects
//                  the message, naming the value.
//   round, round(n)  a number (or numeric text) rounded half away from zero to n decimals
//                  (default 0) and written with exactly n decimals: 12.5 | round(2) → "12.50".
//   money(n)       an amount: round(n) with n required, so a price always shows the decimals
//                  its currency uses: '1234.5' | money(2) → "1234.50" (no thousands
//                  separator, '.' as the decimal point, rounding on the decimal text).
//   date(fmt), date(fmt, tz)
//                  a timestamp formatted in time zone tz (an IANA name such as
//                  'Europe/Warsaw', converted with ICU including summer time; default UTC).
//                  The input is ISO-8601 text with 'T' or a space ("2024-05-01 10:00:00",
//                  "2024-05-01T10:00:00.123+02:00", "2024-05-01"; an optional fraction is
//                  dropped; Z or ±HH[:MM] gives the offset, and without one the time is UTC),
//                  or a whole number (or text of digits) of Unix epoch seconds. fmt takes the
//                  strftime conversions %Y %m %d %H %M %S %y %b %a %e %j %p %I %%, with English
//                  month and day names whatever the host's locale:
//                  '2024-05-01T10:00:00Z' | date('%d.%m.%Y %H:%M', 'Europe/Warsaw')
//                  → "01.05.2024 12:00". An unknown conversion or zone in a literal is a
//                  compile diagnostic; input that is no timestamp rejects the message,
//                  naming the value.
// Filters pass null through unchanged, so `x | upper | default('-')` works.
//
// Rendering: values render as Value::toText(); null renders as the empty string (a column that
// exists but is NULL is a legitimate blank; use `default` to say something else). A field that
// does not exist, without `default`, fails the render with kRejected "template field 'x' does
// not exist"; so does an unavailable one. Placeholders that read no field are evaluated at
// compile time, so their errors are compile diagnostics; now() reads the clock and is never
// folded. Nothing here throws.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/expression.h"
#include "core/result.h"
#include "core/value.h"

namespace smsbridge {

// A compiled template. Immutable and cheap to copy; safe to render from several threads.
class Template {
 public:
  // Every problem found, with offsets into `text` (the whole template, not the placeholder).
  static std::variant<Template, std::vector<ExprDiagnostic>> compile(std::string_view text);

  Result<std::string> render(const EvalContext& context) const;

  // True when the template reads no field and not the clock, so it renders the same text for
  // every event (a fixed route or lane name, say). render() of a constant template cannot fail.
  bool isConstant() const;

  // Dotted paths the placeholders may read, each once, in order of first appearance.
  std::vector<std::string> referencedFields() const;

  const std::string& text() const;

 private:
  struct Compiled;
  explicit Template(std::shared_ptr<const Compiled> compiled);

  // Expression evaluation with the options only templates get: fields named "template
  // field", and missing fields read as null for placeholders that end in `default`.
  static Result<Value> evaluateExpression(const Expression& expression, const EvalContext& context,
                                          bool missing_as_null);

  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace smsbridge
