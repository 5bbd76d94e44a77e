#pragma once

// What is wrong with a configuration, and where: `shop.yaml:42:7: providers.twilio.from:
// required key is missing`. Loading and validation collect every problem into Diagnostics so an
// operator sees all of them at once instead of fixing one per restart.

#include <string>
#include <vector>

#include "core/result.h"

namespace smsbridge::config {

struct Diagnostic {
  std::string file = {};
  int line = 0;    // 1-based; 0 when the position is unknown
  int column = 0;  // 1-based, in characters; 0 when unknown
  std::string key_path =
      {};  // "providers.twilio.from", "mappings.order_shipped.on[1]"; may be empty
  std::string message = {};

  // "file:line:col: key.path: message"; parts that are unknown or empty are left out.
  std::string toString() const;

  bool operator==(const Diagnostic&) const = default;
};

class Diagnostics {
 public:
  void add(Diagnostic diagnostic);
  void append(const Diagnostics& other);

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }

  // In the order they were added.
  const std::vector<Diagnostic>& all() const { return items_; }

  // By file, then line, then column; equal positions keep their order; exact repeats (a YAML
  // alias validated twice) appear once.
  std::vector<Diagnostic> sorted() const;

  // sorted(), one diagnostic per line, without a trailing newline.
  std::string toString() const;

  // Ok when empty, otherwise a kConfig error whose message is toString().
  Status toStatus() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace smsbridge::config
