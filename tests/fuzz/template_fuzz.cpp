// libFuzzer target: any text compiled as a message template, and every template that compiles
// rendered against fixed rows. Must never crash, hang or read out of bounds, and every
// diagnostic must point inside the text (core/template.h's promises).

#include <cstdint>
#include <cstdlib>
#include <variant>

#include "core/template.h"
#include "tests/fuzz/fuzz_rows.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace smsbridge;
  const auto [text, x] = fuzz::splitInput(data, size);
  auto compiled = Template::compile(text);
  if (auto* diagnostics = std::get_if<std::vector<ExprDiagnostic>>(&compiled)) {
    if (diagnostics->empty()) std::abort();
    for (const ExprDiagnostic& d : *diagnostics) {
      if (d.offset > text.size() || d.message.empty()) std::abort();
    }
    return 0;
  }
  const Template& tmpl = std::get<Template>(compiled);
  for (const fuzz::FuzzRow& row : fuzz::fuzzRows(x)) {
    auto rendered = tmpl.render(row);
    // A constant template cannot fail to render (template.h).
    if (tmpl.isConstant() && !rendered.has_value()) std::abort();
  }
  (void)tmpl.referencedFields();
  return 0;
}
