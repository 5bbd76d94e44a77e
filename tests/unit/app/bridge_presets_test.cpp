// `presets:` in a bridge config: shipped presets load, a user's mapping of the same name
// overrides single keys, and every problem points at the file (user's or preset's) it is in.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "app/bridge_config.h"
#include "config/preset.h"
#include "core/sql_ident.h"
#include "tests/fakes/temp_dir.h"

namespace smsbridge {
namespace {

using ::testing::HasSubstr;

constexpr const char* kBase = R"(sources:
  shop: {type: sqlite, path: shop.db}
providers:
  sandbox: {type: sandbox}
routes:
  default: [sandbox]
defaults: {region: PL}
)";

struct Loaded {
  std::optional<BridgeConfig> cfg;
  config::Diagnostics diagnostics;
};

Loaded load(const std::string& rest) {
  testing::TempDir dir;
  std::string path = dir.file("smsbridge.yaml");
  std::ofstream(path) << kBase << rest;
  Loaded out;
  config::LoadOptions options;
  options.read_secret_files = false;
  out.cfg = loadBridgeConfig(path, options, out.diagnostics);
  return out;
}

const Mapping* findMapping(const BridgeConfig& cfg, const std::string& name) {
  for (const auto& m : cfg.mappings->mappings()) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

ChangeEvent outboxInsert(const std::string& lane) {
  ChangeEvent event;
  event.source = "shop";
  event.table = "smsbridge_outbox";
  event.op = Op::kInsert;
  event.pk = "1";
  event.position = "1";
  Row row;
  row.set("id", Value(std::int64_t{1}));
  row.set("to", Value(std::string("600100200")));
  row.set("text", Value(std::string("Code 4711")));
  row.set("lane", Value(lane));
  row.set("dedup", Value());
  event.after = row;
  return event;
}

TEST(Presets, EveryShippedPresetParses) {
  ASSERT_FALSE(config::builtinPresets().empty());
  for (const auto& preset : config::builtinPresets()) {
    SCOPED_TRACE(preset.name);
    EXPECT_EQ(preset.error, "");
    EXPECT_FALSE(preset.description.empty());
    EXPECT_FALSE(preset.mappings.empty());
  }
  EXPECT_THAT(config::builtinPresetNames(),
              ::testing::ElementsAre("easyappointments", "odoo", "outbox", "woocommerce"));
}

TEST(Presets, EveryShippedPresetLoadsWithItsRequiredParameters) {
  for (const char* entry :
       {"outbox", "{name: woocommerce, admin_phone: '+48600100200', storage: hpos}",
        "{name: woocommerce, admin_phone: '+48600100200', storage: legacy}",
        "{name: woocommerce, admin_phone: '+48600100200'}",
        "{name: odoo, admin_phone: '+48600100200'}", "easyappointments"}) {
    SCOPED_TRACE(entry);
    Loaded l = load(std::string("presets: [") + entry + "]\n");
    ASSERT_TRUE(l.cfg.has_value()) << l.diagnostics.toString();
    EXPECT_FALSE(l.cfg->mappings->mappings().empty());
  }
}

TEST(Presets, StorageChoosesTheOrderTable) {
  Loaded hpos =
      load("presets: [{name: woocommerce, admin_phone: '+48600100200', storage: hpos}]\n");
  ASSERT_TRUE(hpos.cfg.has_value()) << hpos.diagnostics.toString();
  EXPECT_EQ(findMapping(*hpos.cfg, "wc_order_completed")->table(), "wp_wc_orders");
  Loaded legacy = load(
      "presets: [{name: woocommerce, admin_phone: '+48600100200', storage: legacy, "
      "table_prefix: shop_}]\n");
  ASSERT_TRUE(legacy.cfg.has_value()) << legacy.diagnostics.toString();
  EXPECT_EQ(findMapping(*legacy.cfg, "wc_order_completed")->table(), "shop_posts");
  EXPECT_EQ(findMapping(*legacy.cfg, "wc_admin_low_stock")->table(), "shop_postmeta");
}

TEST(Presets, UnknownPresetIsPositionedAndListsTheShippedOnes) {
  for (const char* entry : {"wocommerce", "{name: wocommerce}"}) {
    SCOPED_TRACE(entry);
    Loaded l = load(std::string("presets: [") + entry + "]\n");
    ASSERT_FALSE(l.cfg.has_value());
    std::string text = l.diagnostics.toString();
    EXPECT_THAT(text, HasSubstr("smsbridge.yaml:8:"));
    EXPECT_THAT(text, HasSubstr("invalid value 'wocommerce' (did you mean 'woocommerce'?)"));
    EXPECT_THAT(text, HasSubstr("easyappointments, odoo, outbox, woocommerce"));
  }
}

TEST(Presets, AnOverrideReplacesOnlyTheKeysItGives) {
  Loaded l = load(R"(presets: [outbox]
mappings:
  outbox_otp:
    text: "Kod: {{ text }}"
)");
  ASSERT_TRUE(l.cfg.has_value()) << l.diagnostics.toString();
  const Mapping* otp = findMapping(*l.cfg, "outbox_otp");
  ASSERT_NE(otp, nullptr);
  EXPECT_EQ(otp->table(), "smsbridge_outbox");  // from the preset
  auto job = otp->apply(outboxInsert("otp"), std::chrono::system_clock::now());
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->body, "Kod: Code 4711");  // from the override
  EXPECT_EQ(job->lane, Lane::kOtp);        // from the preset
  EXPECT_EQ(job->recipient, "+48600100200");
}

TEST(Presets, EnabledFalseAndDisableLeaveMappingsOut) {
  Loaded l = load(R"(presets: [{name: outbox, disable: [outbox_marketing]}]
mappings:
  outbox_otp: {enabled: false}
)");
  ASSERT_TRUE(l.cfg.has_value()) << l.diagnostics.toString();
  EXPECT_EQ(findMapping(*l.cfg, "outbox_otp"), nullptr);
  EXPECT_EQ(findMapping(*l.cfg, "outbox_marketing"), nullptr);
  EXPECT_NE(findMapping(*l.cfg, "outbox"), nullptr);
}

const Schedule* findSchedule(const BridgeConfig& cfg, const std::string& name) {
  for (const auto& s : cfg.schedules) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

TEST(Presets, AScheduleOverrideReplacesTheKeysItGivesAndTheWholeTrigger) {
  Loaded l = load(R"(presets: [easyappointments]
schedules:
  ea_reminder_24h:
    cron: "0 * * * *"
    text: "Tomorrow: {{ service }} at {{ start_datetime | date('%H:%M') }}"
)");
  ASSERT_TRUE(l.cfg.has_value()) << l.diagnostics.toString();
  const Schedule* reminder = findSchedule(*l.cfg, "ea_reminder_24h");
  ASSERT_NE(reminder, nullptr);
  // The user's cron replaces the preset's `every: 10m`: not two triggers.
  EXPECT_EQ(reminder->spec().cron, "0 * * * *");
  EXPECT_EQ(reminder->spec().every.count(), 0);
  EXPECT_THAT(reminder->spec().query, HasSubstr("ea_appointments"));  // from the preset
  Row row{{"id", 40},
          {"start_datetime", "2026-11-26 09:30:00"},
          {"phone", "600 100 200"},
          {"service", "Haircut"}};
  SmsJob job = reminder->jobFor(row, "40", std::chrono::system_clock::now(),
                                std::chrono::system_clock::now());
  EXPECT_EQ(job.body, "Tomorrow: Haircut at 09:30");
  EXPECT_EQ(job.recipient, "+48600100200");
}

TEST(Presets, SchedulesTurnOffLikeMappings) {
  Loaded disabled = load("presets: [{name: easyappointments, disable: [ea_reminder_24h]}]\n");
  ASSERT_TRUE(disabled.cfg.has_value()) << disabled.diagnostics.toString();
  EXPECT_EQ(findSchedule(*disabled.cfg, "ea_reminder_24h"), nullptr);
  EXPECT_NE(findMapping(*disabled.cfg, "ea_booking_confirmed"), nullptr);
  Loaded off = load(R"(presets: [easyappointments]
schedules:
  ea_reminder_24h: {enabled: false}
)");
  ASSERT_TRUE(off.cfg.has_value()) << off.diagnostics.toString();
  EXPECT_EQ(findSchedule(*off.cfg, "ea_reminder_24h"), nullptr);
  Loaded on = load("presets: [easyappointments]\n");
  ASSERT_TRUE(on.cfg.has_value()) << on.diagnostics.toString();
  ASSERT_NE(findSchedule(*on.cfg, "ea_reminder_24h"), nullptr);
  EXPECT_EQ(findSchedule(*on.cfg, "ea_reminder_24h")->spec().every, std::chrono::minutes(10));
}

TEST(Presets, AProblemInsideThePresetPointsIntoThePresetFile) {
  // The route the parameter names does not exist: reported where the preset uses it.
  Loaded l = load("presets: [{name: outbox, route: express}]\n");
  ASSERT_FALSE(l.cfg.has_value());
  bool found = false;
  for (const auto& d : l.diagnostics.all()) {
    if (d.message.find("no route named 'express'") == std::string::npos) continue;
    found = true;
    EXPECT_EQ(d.file, "config/presets/outbox.yaml");
    EXPECT_GT(d.line, 0);
    EXPECT_THAT(d.key_path, ::testing::EndsWith(".route"));
  }
  EXPECT_TRUE(found) << l.diagnostics.toString();
}

TEST(Presets, AProblemInAnOverridePointsIntoTheUsersFile) {
  Loaded l = load(R"(presets: [outbox]
mappings:
  outbox:
    when: "lane =="
)");
  ASSERT_FALSE(l.cfg.has_value());
  ASSERT_EQ(l.diagnostics.size(), 1u) << l.diagnostics.toString();
  const config::Diagnostic& d = l.diagnostics.all().front();
  EXPECT_THAT(d.file, HasSubstr("smsbridge.yaml"));
  EXPECT_EQ(d.line, 11);
  EXPECT_EQ(d.key_path, "mappings.outbox.when");
}

// A config the loader refuses, and what its diagnostics must say.
struct Rejected {
  const char* name;  // the test's name
  const char* rest;  // appended to kBase
  const char* diagnostic;
};

class RejectedPresets : public ::testing::TestWithParam<Rejected> {};

TEST_P(RejectedPresets, SayWhy) {
  Loaded l = load(GetParam().rest);
  ASSERT_FALSE(l.cfg.has_value());
  EXPECT_THAT(l.diagnostics.toString(), HasSubstr(GetParam().diagnostic));
}

INSTANTIATE_TEST_SUITE_P(
    Presets, RejectedPresets,
    ::testing::Values(
        Rejected{"MissingRequiredParameterIsReportedForThePlainName", "presets: [woocommerce]\n",
                 "needs parameter 'admin_phone'"},
        Rejected{"UnknownParameterListsTheAllowedOnes", "presets: [{name: outbox, tabel: x}]\n",
                 "unknown key 'tabel' (did you mean 'table'?)"},
        Rejected{"ParametersSpliceIntoSqlOnlyAsIdentifiers",
                 "presets: [{name: outbox, table: \"x; DROP TABLE y\"}]\n",
                 "may hold only letters, digits and _"},
        Rejected{"DisableNamesOnlyThePresetsMappings",
                 "presets: [{name: outbox, disable: [outbox_sms]}]\n",
                 "invalid value 'outbox_sms'"},
        Rejected{"TheSameMappingFromTwoPresetsIsAnError", "presets: [outbox, outbox]\n",
                 "already defines"},
        Rejected{"ANewMappingBesideAPresetStillNeedsEveryRequiredKey",
                 "presets: [outbox]\nmappings:\n  mine: {text: hi}\n",
                 "mappings.mine.table: required key is missing"},
        Rejected{"NeitherMappingsNorPresetsIsAnError", "", "mappings: required key is missing"}),
    [](const ::testing::TestParamInfo<Rejected>& info) { return std::string(info.param.name); });

TEST(Presets, TheOutboxTableIsCreatedBySetupInTheSourcesDialect) {
  Loaded l = load("presets: [outbox]\n");
  ASSERT_TRUE(l.cfg.has_value()) << l.diagnostics.toString();
  ASSERT_EQ(l.cfg->preset_setup.size(), 1u);
  const PresetSetup& setup = l.cfg->preset_setup.front();
  EXPECT_EQ(setup.source, "shop");
  ASSERT_EQ(setup.statements.size(), 1u);
  EXPECT_THAT(setup.statements.front(),
              HasSubstr("CREATE TABLE IF NOT EXISTS \"smsbridge_outbox\""));
  EXPECT_THAT(setup.statements.front(), HasSubstr("AUTOINCREMENT"));
  // Captured although it starts with the store prefix: smsbridge only reads it.
  EXPECT_THAT(l.cfg->tablesOf(l.cfg->sources.front()), ::testing::Contains("smsbridge_outbox"));
}

TEST(Presets, OnlyTheOutboxOfTheBridgesTablesMayBeCaptured) {
  EXPECT_TRUE(isBridgeOwnedTable("smsbridge_changes", "smsbridge_"));
  EXPECT_TRUE(isBridgeOwnedTable("public.smsbridge_messages", "smsbridge_"));
  EXPECT_TRUE(isBridgeOwnedTable("smsbridge_outbox2", "smsbridge_"));
  EXPECT_FALSE(isBridgeOwnedTable("smsbridge_outbox", "smsbridge_"));
  EXPECT_FALSE(isBridgeOwnedTable("public.sb_outbox", "sb_"));
  EXPECT_FALSE(isBridgeOwnedTable("orders", "smsbridge_"));
}

}  // namespace
}  // namespace smsbridge
