#!/usr/bin/env bash
# check-api.sh: the public surface, checked from outside (SPEC section 0).
# TAP output. Arguments: CC, the shared library, the public include dir, the
# build include dir (for the generated gaio-version.h).
set -u
cc=$1 lib=$2 inc=$3 build_inc=$4
glib_cflags=$(pkg-config --cflags glib-2.0 gobject-2.0 gio-2.0)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok()     { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }

echo "1..6"

# The umbrella compiles on its own, warning-free.
printf '#include <gaio/gaio.h>\nint main(void) { return aio_context_get_current() != NULL; }\n' > "$tmp/umbrella.c"
if $cc -Wall -Wextra -Werror -I"$inc" -I"$build_inc" $glib_cflags -c "$tmp/umbrella.c" -o "$tmp/u.o" 2> "$tmp/err"; then
    ok "/api/0/umbrella-header-compiles-alone"
else
    cat "$tmp/err" | sed 's/^/# /'; not_ok "/api/0/umbrella-header-compiles-alone"
fi

# qemu-compat.h compiles on its own, warning-free (it includes the umbrella).
printf '#include <gaio/qemu-compat.h>\nint main(void) { return timer_pending(NULL) && qemu_get_current_aio_context() == NULL; }\n' > "$tmp/compat.c"
if $cc -Wall -Wextra -Wmissing-prototypes -Wshadow -Werror -I"$inc" -I"$build_inc" $glib_cflags \
       -c "$tmp/compat.c" -o "$tmp/c.o" 2> "$tmp/err"; then
    ok "/api/0/qemu-compat-header-compiles-alone"
else
    cat "$tmp/err" | sed 's/^/# /'; not_ok "/api/0/qemu-compat-header-compiles-alone"
fi

# ... and the umbrella does not pull it in: QEMU's spellings stay out of the
# namespace of plain gaio users.
printf '#include <gaio/gaio.h>\nQEMUTimer *t;\n' > "$tmp/no-compat.c"
if $cc -I"$inc" -I"$build_inc" $glib_cflags -c "$tmp/no-compat.c" -o "$tmp/n.o" 2> /dev/null; then
    not_ok "/api/0/umbrella-leaves-out-qemu-compat"
else
    ok "/api/0/umbrella-leaves-out-qemu-compat"
fi

# A sub-header included directly is an #error.
printf '#include <gaio/bh.h>\n' > "$tmp/direct.c"
if $cc -I"$inc" -I"$build_inc" $glib_cflags -c "$tmp/direct.c" -o "$tmp/d.o" 2> "$tmp/err"; then
    not_ok "/api/0/sub-header-alone-is-an-error"
elif grep -q 'Only <gaio/gaio.h> can be included directly' "$tmp/err"; then
    ok "/api/0/sub-header-alone-is-an-error"
else
    cat "$tmp/err" | sed 's/^/# /'; not_ok "/api/0/sub-header-alone-is-an-error"
fi

# Exported symbols are exactly the functions the headers declare public.
grep -h -A1 '^GAIO_AVAILABLE_IN_' "$inc"/gaio/*.h \
    | grep -v -e 'GAIO_AVAILABLE_IN_' -e '^--' -e '#define' \
    | sed -E 's/.*[ *(]([a-z_][a-z0-9_]*)\(.*/\1/' | sort -u > "$tmp/declared"
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort -u > "$tmp/exported"
if diff -u "$tmp/declared" "$tmp/exported" > "$tmp/diff"; then
    ok "/api/0/exports-exactly-the-public-api ($(wc -l < "$tmp/exported") symbols)"
else
    sed 's/^/# /' "$tmp/diff"; not_ok "/api/0/exports-exactly-the-public-api"
fi

# No private symbol leaks even as data.
if nm -D --defined-only "$lib" | awk '$2 != "T" && $3 !~ /^_/ { print }' | grep -q .; then
    nm -D --defined-only "$lib" | awk '$2 != "T"' | sed 's/^/# /'; not_ok "/api/0/no-exported-data"
else
    ok "/api/0/no-exported-data"
fi
exit $failed
