#pragma once

// A PostgreSQL shop for e2e tests: a plain libpq connection that throws on errors, and a guard
// that drops what a test created (slot, publication, tables with the test's tag) even when an
// assertion ended the test early — a leftover slot would pin WAL on the test server.

#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include <vector>
#include "tests/e2e/process.h"

namespace smsbridge::testing {

class Shop {
 public:
  explicit Shop(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string error = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error(error);
    }
    exec("SET client_min_messages = warning");
  }
  ~Shop() { PQfinish(conn_); }
  Shop(const Shop&) = delete;
  Shop& operator=(const Shop&) = delete;

  // Several statements in one string run as one implicit transaction.
  void exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string error = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) throw std::runtime_error(sql + ": " + error);
  }
  std::string text(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) > 0
                        ? PQgetvalue(r, 0, 0)
                        : "<error: " + std::string(PQresultErrorMessage(r)) + ">";
    PQclear(r);
    return v;
  }
  long long scalar(const std::string& sql) { return std::atoll(text(sql).c_str()); }
  // Drops the tables whose names start with `prefix`, and the functions named likewise (trigger
  // capture's functions would otherwise outlive their tables), to clean up after a test.
  void dropTablesLike(const std::string& prefix) {
    exec(
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE "
        "schemaname = 'public' AND tablename LIKE '" +
        prefix +
        "%' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(t) || ' CASCADE'; END LOOP; "
        "END $$");
    exec(
        "DO $$ DECLARE f text; BEGIN FOR f IN SELECT p.oid::regprocedure::text FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND "
        "p.proname LIKE '" +
        prefix + "%' LOOP EXECUTE 'DROP FUNCTION IF EXISTS ' || f || ' CASCADE'; END LOOP; END $$");
  }
  std::vector<std::string> column(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::vector<std::string> values;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) values.push_back(PQresultErrorMessage(r));
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); ++i) {
      values.push_back(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return values;
  }

 private:
  PGconn* conn_;
};

// Drops what the test created even when an assertion ended it early: a leftover slot would pin
// WAL on the test server.
struct Cleanup {
  Shop& shop;
  std::string tag;
  std::string slot;
  std::string publication;
  ~Cleanup() {
    try {
      shop.exec(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE "
          "slot_name = '" +
          slot + "' AND active_pid IS NOT NULL");
      for (int i = 0; i < 50 && shop.text("SELECT count(*) FROM pg_replication_slots WHERE "
                                          "slot_name = '" +
                                          slot + "' AND active") != "0";
           ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      shop.exec(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE "
          "slot_name = '" +
          slot + "'");
      shop.exec("DROP PUBLICATION IF EXISTS " + publication);
      shop.dropTablesLike(tag);
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch)
      // Best effort: the test's own assertions already reported the problem.
    }
  }
};

}  // namespace smsbridge::testing
