#pragma once

// Parameterised SQL against a configured source database, for everything that is not capture:
// mapping `lookup:` queries, `schedules:`, `write_back:` actions and `test-mapping --from-db`.
// SQL text comes from the config and names its parameters `:name`; values are always bound by
// the driver, never spliced into the text (DESIGN.md §4). `::` (a PostgreSQL cast) and text
// inside quotes are not parameters.
//
// Threading: a SqlSession is one connection; use it from one thread at a time and open one per
// thread that needs it (SourceFactory::open_sql). Errors are kTransient when the connection
// failed or was lost (retrying later may help) and kConfig when the statement itself is wrong
// (unknown table or column, a parameter missing from `params`).

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/value.h"

namespace smsbridge {

// The names of the `:name` parameters in `sql`, in order of first appearance, each once.
std::vector<std::string> sqlParameterNames(std::string_view sql);

// `sql` with every `:name` parameter replaced by `placeholder(name)`, called once per
// occurrence in order: how a driver session turns the config's names into its own positional
// markers (`$1` for PostgreSQL, `?` for MySQL) while the values stay bound, never spliced.
// Quoted text, `::` casts and comments are left as they are.
std::string replaceSqlParameters(std::string_view sql,
                                 const std::function<std::string(const std::string&)>& placeholder);

class SqlSession {
 public:
  virtual ~SqlSession() = default;

  // Runs a query and hands each row to `on_row` as it is read, so a 100,000-row schedule never
  // sits in memory. Column names are those of the result set. `on_row` returning false stops
  // the query early (not an error). Every parameter in `sql` must be present in `params`.
  virtual Status forEachRow(std::string_view sql, const Row& params,
                            const std::function<bool(const Row&)>& on_row) = 0;

  // Runs a statement that changes data in its own transaction; returns the affected row count.
  virtual Result<std::int64_t> execute(std::string_view sql, const Row& params) = 0;

  // One statement of executeAll(), with its own parameters.
  struct Statement {
    std::string sql;
    Row params;
  };

  // Runs `statements` in order in ONE transaction: either all of them commit or none does
  // (write-back actions commit a marker row and the action together, so a crash never leaves
  // one without the other). Returns each statement's affected row count, in order. The first
  // failing statement rolls the transaction back and its error is returned, categorised as for
  // execute(); a duplicate key is not told apart from other statement errors. This default
  // reports that the backend does not support it yet.
  virtual Result<std::vector<std::int64_t>> executeAll(std::span<const Statement> statements);

  // Every row of a query, for small results (lookups).
  Result<std::vector<Row>> query(std::string_view sql, const Row& params);
};

}  // namespace smsbridge
