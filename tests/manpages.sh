#!/bin/bash
# Checks the manual: every public function has a page in man/, and every
# page renders without groff warnings and has the sections users expect.
#
# Public names come from two places:
#   - the functions exported by libdill.so (nm -D), minus the internal
#     entry points used by the go() macros;
#   - the function-like names of include/libdill.h and libdillimpl.h that
#     have a short (raw) alias, which also covers macros such as go().
# For each, man/<short name>.3 must exist.
#
# Environment: DILL_TEST_SRCDIR (source tree), DILL_TEST_BINDIR (build tree).
# The script starts few processes: it runs next to parallel builds.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${DILL_TEST_SRCDIR:-$here/..}
bin=${DILL_TEST_BINDIR:-$src/build}
mandir=$src/man
fail=0

err() { echo "manpages: $*" >&2; fail=1; }

[ -d "$mandir" ] || { echo "manpages: no directory $mandir" >&2; exit 1; }
shopt -s nullglob
pages=("$mandir"/*.3)
[ ${#pages[@]} -gt 0 ] || { echo "manpages: no pages in $mandir" >&2; exit 1; }

# ---------------------------------------------------------------------------
# 1. Names that need a page.
# ---------------------------------------------------------------------------
# Entry points of the go() macros, not meant to be called directly.
internal='^(prologue|epilogue|enter_|resume_|setjmp_|unoptimisable)$'
names=()

lib=$bin/libdill.so
if [ ! -e "$lib" ]; then
    err "$lib not found; build the library first"
elif ! command -v nm >/dev/null; then
    err "nm not found (install binutils)"
else
    # "<addr> <type> <name>": keep defined functions named dill_*, drop
    # internal ones (dill__*, trailing underscore, the list above).
    while read -r n; do
        names+=("$n")
    done < <(nm -D --defined-only "$lib" | awk -v internal="$internal" '
        $2 ~ /^[TWi]$/ {
            n = $3; sub(/@.*/, "", n)
            if(n !~ /^dill_/ || n ~ /^dill__/) next
            n = substr(n, 6)
            if(n ~ internal || n ~ /_$/) next
            print n
        }')
fi

# Raw aliases ("#define name dill_name") of function-like names: declared
# as functions or defined as function-like macros ("dill_name(").
headers=()
for h in "$src/include/libdill.h" "$src/include/libdillimpl.h"; do
    [ -f "$h" ] && headers+=("$h")
done
if [ ${#headers[@]} -gt 0 ]; then
    while read -r n; do
        names+=("$n")
    done < <(awk '
        {
            line = $0
            if(match(line, /^[ \t]*#[ \t]*define[ \t]+[a-z_][a-z0-9_]*[ \t]+dill_[a-z0-9_]+[ \t]*$/)) {
                nw = split(line, w, /[ \t#]+/)
                for(i = 1; i <= nw; i++) if(w[i] == "define") break
                if(w[i + 2] == "dill_" w[i + 1]) alias[w[i + 1]] = 1
            }
            while(match(line, /dill_[a-z0-9_]+[ \t]*\(/)) {
                f = substr(line, RSTART + 5, RLENGTH - 5)
                sub(/[ \t]*\($/, "", f)
                called[f] = 1
                line = substr(line, RSTART + RLENGTH)
            }
        }
        END {for(a in alias) if(a in called) print a}' "${headers[@]}")
fi

missing=()
declare -A seen=()
for n in "${names[@]}"; do
    [ -n "${seen[$n]:-}" ] && continue
    seen[$n]=1
    [ -f "$mandir/$n.3" ] || missing+=("$n")
done
if [ ${#missing[@]} -gt 0 ]; then
    err "missing man pages:"
    for n in "${missing[@]}"; do echo "    man/$n.3" >&2; done
fi
echo "manpages: ${#seen[@]} public names checked"

# ---------------------------------------------------------------------------
# 2. Pages render without warnings.
# ---------------------------------------------------------------------------
# groff -ww reports what "man --warnings" would; one run covers all pages
# and names the file in each warning.  man(1) is the fallback.
if command -v groff >/dev/null; then
    out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "${pages[@]}" 2>&1)
elif command -v man >/dev/null; then
    out=$(for p in "${pages[@]}"; do
        LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -Tutf8 "$p" 2>&1 \
            >/dev/null | sed "s|^|$(basename "$p"): |"
    done)
else
    out=""
    err "neither groff nor man found (run scripts/install-deps.sh)"
fi
[ -z "$out" ] || { err "pages render with warnings:"; echo "$out" >&2; }

bad=$(LC_ALL=C grep -l '[^[:print:][:space:]]' "${pages[@]}")
[ -z "$bad" ] || err "non-ASCII or control characters in: $bad"

# ---------------------------------------------------------------------------
# 3. Structure: sections, errors of blocking calls, cross references.
# ---------------------------------------------------------------------------
out=$(printf '%s\n' "${pages[@]##*/}" | awk '
    FNR == NR {have[$0] = 1; next}
    function finish() {
        if(file == "") return
        need = "NAME|SYNOPSIS|DESCRIPTION|EXAMPLE|SEE ALSO"
        if(base != "libdill.3") need = need "|RETURN VALUE|ERRORS"
        n = split(need, req, "|")
        for(i = 1; i <= n; i++)
            if(!(req[i] in sec)) print base ": no " req[i] " section"
        if(blocking) {
            if(!("ECANCELED" in errs)) print base ": ERRORS lacks ECANCELED"
            # msleep() reaching its deadline is success, not an error.
            if(!("ETIMEDOUT" in errs) && base != "msleep.3")
                print base ": ERRORS lacks ETIMEDOUT"
        }
    }
    FNR == 1 {
        finish()
        file = FILENAME; base = file; sub(/.*\//, "", base)
        delete sec; delete errs; cur = ""; blocking = 0
    }
    /^\.SH / {
        cur = substr($0, 5); gsub(/"/, "", cur); sec[cur] = 1; next
    }
    cur == "SYNOPSIS" && /int64_t deadline/ {blocking = 1}
    cur == "ERRORS" && /^\.B E[A-Z0-9]+$/ {errs[$2] = 1}
    /^\.BR [a-z_0-9]+ \(3\)/ {
        if(!(($2 ".3") in have)) print base ": refers to missing page " $2 "(3)"
    }
    END {finish()}' - "${pages[@]}")
[ -z "$out" ] || { err "structure problems:"; echo "$out" >&2; }
echo "manpages: ${#pages[@]} pages checked"

# ---------------------------------------------------------------------------
# 4. Every exported declaration has a contract comment: the nearest line
#    above it that is not part of a declaration group (another DILL_EXPORT,
#    a continuation line, #if/#elif) closes a comment.
# ---------------------------------------------------------------------------
if [ ${#headers[@]} -gt 0 ]; then
    out=$(awk '
        FNR == 1 {last = ""; incomment = 0}
        /\/\*/ && !/\*\// {incomment = 1; next}
        incomment {if(/\*\//) {incomment = 0; last = "*/"}; next}
        /\*\/[ \t]*$/ {last = "*/"; next}
        /^DILL_EXPORT/ {
            if(last != "*/") print FILENAME ":" FNR ": " $0
            next
        }
        /^[ \t]+[^ \t]/ {next}
        /^#[ \t]*(if|elif)/ {next}
        {last = $0}' "${headers[@]}")
    [ -z "$out" ] || { err "exported declarations without a contract comment:"; echo "$out" >&2; }
fi

exit $fail
