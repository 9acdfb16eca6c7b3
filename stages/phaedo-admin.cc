// phaedo-admin --profile FILE <command>: operate a runner host.
//   jobs              every job with a journal, what it still holds, when it expires
//   reap [--dry-run]  tear down jobs whose timeout (plus margin) has passed
//   release KEY       tear down one job now, whatever its state (an administrator's call)
//   doctor            check the host for this profile
//   metrics           print the Prometheus metrics (also kept in <state_dir>/metrics.prom)
#include <CLI/CLI.hpp>
#include <iostream>

#include "admin/admin.h"
#include "core/cancel.h"
#include "metrics/metrics.h"
#include "stages/context.h"

namespace {

using namespace phaedo;

int print_jobs(const profile::Profile& p) {
  auto jobs = admin::list_jobs(p);
  if (!jobs) {
    std::cerr << "phaedo: error: " << jobs.error().message << "\n";
    return 2;
  }
  for (const auto& j : *jobs) {
    std::cout << j.key << "  job " << j.job_id << "  created " << (j.created.empty() ? "?" : j.created)
              << "  expires " << j.expires << (j.busy ? "  [busy]" : "") << "\n";
    for (const auto& l : j.live) std::cout << "    " << l << "\n";
  }
  if (jobs->empty()) std::cout << "no jobs\n";
  return 0;
}

int run_reap(const profile::Profile& p, const admin::ReapOptions& options) {
  log::Logger log("reap", p.log_file);
  auto report = admin::reap(p, Environment::from_process(), log, options);
  if (!report) {
    std::cerr << "phaedo: error: " << report.error().message << "\n";
    return 2;
  }
  for (const auto& k : report->reaped) std::cout << "reaped " << k << "\n";
  for (const auto& k : report->skipped) std::cout << "skipped " << k << "\n";
  for (const auto& k : report->failed) std::cout << "FAILED " << k << "\n";
  std::cout << report->objects_removed << " objects removed\n";
  return report->failed.empty() ? 0 : 2;
}

int run_doctor(const profile::Profile& p) {
  bool ok = true;
  for (const auto& c : admin::doctor(p, Environment::from_process())) {
    std::cout << (c.ok ? "ok    " : "FAIL  ") << c.name << ": " << c.detail << "\n";
    ok = ok && c.ok;
  }
  return ok ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"phaedo-executor administration", "phaedo-admin"};
    app.set_version_flag("--version", std::string("phaedo-admin (phaedo-executor) ") + stages::driver_version());
    std::string profile_path;
    app.add_option("--profile", profile_path, "driver profile (TOML)")->required();
    app.require_subcommand(1);
    auto* jobs = app.add_subcommand("jobs", "list jobs with a journal and what they hold");
    admin::ReapOptions reap_options;
    auto* reap = app.add_subcommand("reap", "tear down jobs whose timeout plus margin has passed");
    reap->add_flag("--dry-run", reap_options.dry_run, "only say what would be reaped");
    admin::ReapOptions release_options;
    release_options.select = admin::Select::one;
    auto* release = app.add_subcommand("release", "tear down one job now");
    release->add_option("key", release_options.key, "job key, e.g. r12-j1001")->required();
    auto* doctor = app.add_subcommand("doctor", "check the host for this profile");
    auto* metrics = app.add_subcommand("metrics", "print Prometheus metrics");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : 2;
    }
    if (auto s = CancelToken::install(); !s) return 2;
    auto p = profile::load_profile(profile_path);
    if (!p) {
      std::cerr << "phaedo: error: " << p.error().message << "\n";
      return 2;
    }
    if (jobs->parsed()) return print_jobs(*p);
    if (reap->parsed()) return run_reap(*p, reap_options);
    if (release->parsed()) return run_reap(*p, release_options);
    if (doctor->parsed()) return run_doctor(*p);
    if (metrics->parsed()) {
      auto text = metrics::render(p->state_dir);
      if (!text) {
        std::cerr << "phaedo: error: " << text.error().message << "\n";
        return 2;
      }
      std::cout << *text;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "phaedo: error: phaedo-admin: unexpected error: " << e.what() << "\n";
  }
  return 2;
}
