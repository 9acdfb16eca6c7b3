// phaedo-admin --profile FILE <command>: operate a runner host.
//   jobs              every job with a journal, what it still holds, when it expires
//   reap [--dry-run]  tear down jobs whose timeout (plus margin) has passed
//   release KEY|NODE  tear down one job now, whatever its state (an administrator's call);
//                     with lease = "kubernetes-node" also that job's lease, or a node's lease
//   leases            the node leases: node, holder, phase, since, expires-in, namespace
//   doctor            check the host for this profile
//   metrics           print the Prometheus metrics (also kept in <state_dir>/metrics.prom)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "admin/admin.h"
#include "core/cancel.h"
#include "lease/lease.h"
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

bool print_report(const Result<admin::ReapReport>& report) {
  if (!report) {
    std::cerr << "phaedo: error: " << report.error().message << "\n";
    return false;
  }
  for (const auto& k : report->reaped) std::cout << "reaped " << k << "\n";
  for (const auto& k : report->skipped) std::cout << "skipped " << k << "\n";
  for (const auto& k : report->failed) std::cout << "FAILED " << k << "\n";
  return report->failed.empty();
}

bool is_lease_profile(const profile::Profile& p) { return p.lease == profile::LeaseKind::kubernetes_node; }

int run_reap(const profile::Profile& p, const admin::ReapOptions& options) {
  log::Logger log("reap", p.log_file);
  bool ok = true;
  // release NODE of a lease profile names no job journal: only the lease side applies.
  bool job_key = !is_lease_profile(p) || options.select != admin::Select::one || options.key.rfind('r', 0) == 0;
  if (job_key) {
    auto report = admin::reap(p, Environment::from_process(), log, options);
    ok = print_report(report);
    if (report) std::cout << report->objects_removed << " objects removed\n";
  }
  if (is_lease_profile(p)) ok = print_report(admin::reap_leases(p, log, options)) && ok;
  return ok ? 0 : 2;
}

int print_leases(const profile::Profile& p) {
  auto rows = lease::list(p.kubernetes);
  if (!rows) {
    std::cerr << "phaedo: error: " << rows.error().message << "\n";
    return 2;
  }
  std::printf("%-20s %-16s %-10s %-22s %-10s %s\n", "NODE", "HOLDER", "PHASE", "SINCE", "EXPIRES-IN", "NAMESPACE");
  for (const auto& r : *rows) {
    std::string expires = r.expires_in ? std::to_string(*r.expires_in) + "s" : "-";
    std::printf("%-20s %-16s %-10s %-22s %-10s %s\n", r.node.c_str(), r.holder.empty() ? "-" : r.holder.c_str(),
                r.phase.empty() ? "-" : r.phase.c_str(), r.since.empty() ? "-" : r.since.c_str(), expires.c_str(),
                r.namespace_.empty() ? "-" : r.namespace_.c_str());
  }
  return 0;
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
    release->add_option("key", release_options.key, "job key (e.g. r12-j1001) or, for a lease profile, a node")
        ->required();
    auto* leases = app.add_subcommand("leases", "list the node leases (lease = \"kubernetes-node\")");
    // Started by phaedo-prepare, detached; not for people (hidden: empty group).
    std::string renew_node, renew_holder;
    auto* renew = app.add_subcommand("lease-renew", "keep a node lease alive")->group("");
    renew->add_option("--node", renew_node)->required();
    renew->add_option("--holder", renew_holder)->required();
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
    if ((leases->parsed() || renew->parsed()) && !is_lease_profile(*p)) {
      std::cerr << "phaedo: error: profile " << p->source << " has no node lease (lease = \"kubernetes-node\")\n";
      return 2;
    }
    if (leases->parsed()) return print_leases(*p);
    if (renew->parsed()) {
      log::Logger log("renewer", p->log_file);
      return lease::run_renewer(p->kubernetes, renew_node, renew_holder, log);
    }
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
