// The `safeguard` command line.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "bank_command.h"
#include "hash_command.h"
#include "match_command.h"
#include "safeguard/hash/pdq.h"
#include "safeguard/media/image.h"
#include "safeguard/store/store.h"
#include "serve_command.h"
#include "text_command.h"

namespace {

constexpr const char* kVersion = "0.1.0";

}  // namespace

int main(int argc, char** argv) {
  using namespace safeguard;
  CLI::App app{"Safeguard: fingerprint files and match them against lists of known material."};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  std::string store_url = kDefaultStoreUrl;
  CLI::Option* store_option =
      app.add_option("--store", store_url,
                     "Bank store: sqlite:PATH or a file path (default ./safeguard-data/)")
          ->capture_default_str();

  cli::HashCommandOptions hash;
  std::string mode = "canonical";
  CLI::App* hash_cmd = app.add_subcommand(
      "hash",
      "Print digests (MD5, SHA-1, SHA-256) and, for images, PDQ, as one JSON line per file.");
  hash_cmd->add_option("paths", hash.paths, "Files and folders (folders are walked recursively)")
      ->required();
  hash_cmd->add_option("--mode", mode, "PDQ mode: canonical | fast | reference512")
      ->check(CLI::IsMember({"canonical", "fast", "reference512"}))
      ->capture_default_str();
  hash_cmd->add_flag("--dihedral", hash.signals.dihedral,
                     "Also print the PDQ hashes of the eight rotations and flips");
  hash_cmd->add_option("-j,--jobs", hash.jobs, "Worker threads (default: one per core)")
      ->check(CLI::Range(0, 256));
  hash_cmd->add_flag("--apply-exif-orientation", hash.signals.decode.apply_exif_orientation,
                     "Rotate images by their EXIF orientation first (off: as the reference)");
  hash_cmd
      ->add_option("--fast-min-side", hash.signals.fast_min_side,
                   "Fast mode: smallest side to decode to")
      ->check(CLI::Range(64, 4096))
      ->capture_default_str();
  hash_cmd
      ->add_option("--max-pixels", hash.signals.decode.limits.max_pixels,
                   "Refuse images with more pixels than this")
      ->capture_default_str();
  hash_cmd
      ->add_option("--max-dimension", hash.signals.decode.limits.max_dimension,
                   "Refuse images with a side longer than this")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  hash_cmd
      ->add_option("--max-file-bytes", hash.signals.decode.limits.max_file_bytes,
                   "Do not decode image files larger than this")
      ->capture_default_str();
  hash_cmd->add_flag("!--no-progress", hash.progress, "Never show progress on stderr");
  hash_cmd->add_flag("!--no-video", hash.signals.video,
                     "Do not probe and fingerprint videos (digests only)");
  hash_cmd->add_flag("!--no-tmk", hash.signals.tmk, "Videos: vPDQ only, no TMK+PDQF");
  hash_cmd
      ->add_option("--vpdq-seconds", hash.signals.vpdq.seconds_per_hash,
                   "Videos: seconds between vPDQ frames (0 = every frame)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  hash_cmd->add_option("--signatures-dir", hash.signatures_dir,
                       "Write each video's <sha256>.vpdq.txt and <sha256>.tmk here");

  cli::TextCommand text(&app);
  cli::BankCommand bank(&app, &store_url);
  cli::MatchCommand match(&app, &store_url);
  cli::ServeCommand serve(&app, &store_url, store_option);

  CLI11_PARSE(app, argc, argv);

  if (hash_cmd->parsed()) {
    hash.signals.pdq_mode = *ParsePdqMode(mode);  // validated by IsMember above
    if (Status s = InitializeImageDecoding(); !s.ok()) {
      std::fprintf(stderr, "safeguard: %s\n", s.ToString().c_str());
      return 2;
    }
    std::ios::sync_with_stdio(false);
    return cli::RunHashCommand(hash, std::cout);
  }
  if (bank.parsed()) {
    return bank.Run(std::cin, std::cout, std::cerr);
  }
  if (match.parsed()) {
    if (Status s = InitializeImageDecoding(); !s.ok()) {
      std::fprintf(stderr, "safeguard: %s\n", s.ToString().c_str());
      return 2;
    }
    std::ios::sync_with_stdio(false);
    return match.Run(std::cin, std::cout, std::cerr);
  }
  if (serve.parsed()) {
    return serve.Run(std::cout, std::cerr);
  }
  if (text.parsed()) {
    std::ios::sync_with_stdio(false);
    return text.Run();
  }
  return 0;
}
