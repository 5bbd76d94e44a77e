// libFuzzer target: any text compiled as a `when` expression, and every expression that
// compiles evaluated against fixed rows. Must never crash, hang or read out of bounds, and
// every diagnostic must point inside the text (core/expression.h's promises).

#include <cstdint>
#include <cstdlib>
#include <variant>

#include "core/expression.h"
#include "tests/fuzz/fuzz_rows.h"

namespace {

using namespace smsbridge;

void checkOffsets(const std::vector<ExprDiagnostic>& diagnostics, std::size_t size) {
  for (const ExprDiagnostic& d : diagnostics) {
    if (d.offset > size || d.message.empty()) std::abort();
  }
}

void evaluateEverywhere(const Expression& expression, const std::string& x) {
  for (const fuzz::FuzzRow& row : fuzz::fuzzRows(x)) {
    auto value = expression.evaluate(row);
    auto condition = expression.evaluateCondition(row);
    // A condition is the truthiness of the value: both fail or both succeed.
    if (value.has_value() != condition.has_value()) std::abort();
  }
  (void)expression.referencedFields();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [text, x] = fuzz::splitInput(data, size);
  auto compiled = Expression::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&compiled)) {
    if (diagnostics->empty()) std::abort();
    checkOffsets(*diagnostics, text.size());
  } else {
    evaluateEverywhere(std::get<Expression>(compiled), x);
  }
  // The embedded form, as templates use it, from an offset inside the text.
  const std::size_t begin = text.empty() ? 0 : x.size() % (text.size() + 1);
  EmbeddedExpression embedded = Expression::compileEmbedded(text, begin, text.size());
  checkOffsets(embedded.diagnostics, text.size());
  if (embedded.end > text.size() || embedded.begin > embedded.end) std::abort();
  if (embedded.expression) evaluateEverywhere(*embedded.expression, x);
  return 0;
}
