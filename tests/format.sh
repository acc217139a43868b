#!/usr/bin/env bash
# The C sources follow the checked-in .clang-format (`make format` fixes).
# usage: format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format is missing (scripts/deps.sh installs it)"; exit 1; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
bad=0
for f in $files; do
    if ! clang-format --dry-run --Werror "$f" 2>/dev/null; then
        echo "not formatted: $f"
        bad=$((bad + 1))
    fi
done
n=$(echo "$files" | wc -w)
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
