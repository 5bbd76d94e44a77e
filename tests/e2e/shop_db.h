#pragma once

// The shop database of an e2e test, whichever engine it runs on: plain statements in, one
// value out. Each engine's client is used directly (libpq, Connector/C, our SQLite wrapper),
// never the bridge's own store code, so a test checks the bridge from the outside.

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/sqlite/sqlite_db.h"
#include "tests/e2e/mariadb_shop.h"
#include "tests/e2e/pg_shop.h"
#include "tests/integration/test_env.h"

namespace smsbridge::testing {

class ShopDb {
 public:
  virtual ~ShopDb() = default;
  // Throws with the statement and the server's message when it fails.
  virtual void exec(const std::string& sql) = 0;
  // The first column of the only row as an integer; -1 on any error (e.g. no such table yet).
  virtual long long scalar(const std::string& sql) = 0;
  // The first column of the first row as text; empty when there is none or on error.
  virtual std::string text(const std::string& sql) = 0;
  // Drops the tables whose names start with `prefix` (and on PostgreSQL the functions named
  // likewise), to clean up after a test; throws when a statement fails.
  virtual void dropTablesLike(const std::string& prefix) = 0;
};

// PostgreSQL through pg_shop.h's connection; pg() reaches it for PostgreSQL-only work.
class PgShopDb final : public ShopDb {
 public:
  explicit PgShopDb(const std::string& dsn) : shop_(dsn) {}

  void exec(const std::string& sql) override { shop_.exec(sql); }
  long long scalar(const std::string& sql) override {
    std::string v = text(sql);
    return v.empty() ? -1 : std::atoll(v.c_str());
  }
  std::string text(const std::string& sql) override {
    std::string v = shop_.text(sql);
    return v.rfind("<error", 0) == 0 ? "" : v;
  }
  void dropTablesLike(const std::string& prefix) override { shop_.dropTablesLike(prefix); }
  Shop& pg() { return shop_; }

 private:
  Shop shop_;
};

// MariaDB through mariadb_shop.h's connection.
class MysqlShopDb final : public ShopDb {
 public:
  explicit MysqlShopDb(const std::string& dsn) : shop_(dsn) {}

  void exec(const std::string& sql) override { shop_.exec(sql); }
  long long scalar(const std::string& sql) override {
    try {
      return shop_.scalar(sql);
    } catch (const std::runtime_error&) {
      return -1;
    }
  }
  std::string text(const std::string& sql) override {
    try {
      return shop_.text(sql);
    } catch (const std::runtime_error&) {
      return "";
    }
  }
  void dropTablesLike(const std::string& prefix) override { shop_.dropTablesLike(prefix); }
  MariaDbShop& mariadb() { return shop_; }

 private:
  MariaDbShop shop_;
};

class SqliteShopDb final : public ShopDb {
 public:
  explicit SqliteShopDb(const std::string& path) {
    auto db = sqlite::Database::open(path, sqlite::Database::OpenMode::kCreateIfMissing,
                                     std::chrono::milliseconds(10'000));
    if (!db) throw std::runtime_error(db.error().toString());
    db_ = std::move(*db);
  }
  void exec(const std::string& sql) override {
    Status s = db_->exec(sql);
    if (!s.isOk()) throw std::runtime_error(sql + ": " + s.toString());
  }
  long long scalar(const std::string& sql) override {
    auto st = db_->prepare(sql);
    if (!st) return -1;
    auto row = st->step();
    if (!row || !*row) return -1;
    return st->columnInt(0);
  }
  std::string text(const std::string& sql) override {
    auto st = db_->prepare(sql);
    if (!st) return "";
    auto row = st->step();
    if (!row || !*row) return "";
    return st->columnText(0);
  }
  void dropTablesLike(const std::string& prefix) override {
    std::vector<std::string> tables;
    {  // finalized before the drops: SQLite refuses to drop a table while a statement reads
      auto st = db_->prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '" +
                             prefix + "%'");
      if (!st) throw std::runtime_error(st.error().toString());
      for (auto row = st->step(); row && *row; row = st->step()) {
        tables.push_back(st->columnText(0));
      }
    }
    for (const auto& t : tables) exec("DROP TABLE IF EXISTS \"" + t + "\"");
  }

 private:
  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace smsbridge::testing
