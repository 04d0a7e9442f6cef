#!/usr/bin/env bash
# libvkcls.so exports exactly the functions include/vkcls/vkcls.h declares (VKCLS_API), all
# named vkcls_*, and nothing else; its SONAME is the expected one.
# usage: check_symbols.sh LIB HEADER SONAME
set -euo pipefail
lib=$1 header=$2 soname=$3

exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort)
declared=$(sed -nE 's/^VKCLS_API .*[ *](vkcls_[a-z0-9_]+)\(.*/\1/p' "$header" | sort)
echo "exported ($(wc -l <<<"$exported")):"
echo "$exported" | sed 's/^/  /'

status=0
if others=$(grep -v '^vkcls_' <<<"$exported"); then
  echo "FAIL: exported symbols outside the C API:"
  echo "$others" | sed 's/^/  /'
  status=1
fi
if [ "$exported" != "$declared" ]; then
  echo "FAIL: exported and declared differ (< exported only, > declared only):"
  diff <(echo "$exported") <(echo "$declared") | grep '^[<>]' || true
  status=1
fi
got=$(readelf -d "$lib" | sed -nE 's/.*\(SONAME\).*\[(.*)\]/\1/p')
echo "SONAME: $got"
if [ "$got" != "$soname" ]; then
  echo "FAIL: SONAME is '$got', expected '$soname'"
  status=1
fi
[ $status = 0 ] && echo "OK: $(wc -l <<<"$exported") symbols, all declared in vkcls.h"
exit $status
