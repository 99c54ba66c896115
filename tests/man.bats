#!/usr/bin/env bats
# The manual and the README against the program: every option connectd
# --help lists is documented in both, the SYNOPSIS is the usage line, the
# page is mandoc-clean, and the source is formatted (make lint).

BATS_TEST_TIMEOUT=60

setup() {
	top=$BATS_TEST_DIRNAME/..
	CONNECTD=${CONNECTD:-$top/connectd}
}

# The long options of --help, one per line.
help_options() {
	"$CONNECTD" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u
}

@test "man page: mandoc -Tlint reports nothing" {
	command -v mandoc >/dev/null || skip "mandoc not installed"
	# An empty MANPATH: judge the page, not this machine's manual index
	# (a stale mandoc.db adds lines about other pages).
	mkdir -p "$BATS_TEST_TMPDIR/man"
	MANPATH=$BATS_TEST_TMPDIR/man run mandoc -Tlint -Wwarning "$top/man/connectd.8"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "man page: every option of --help is documented, short and long" {
	local opt missing=()
	for opt in $(help_options); do
		grep -qE -- "Fl \\\\?-${opt#--}( |$)|Fl -${opt#--}" "$top/man/connectd.8" ||
			missing+=("$opt")
	done
	for opt in $("$CONNECTD" --help | grep -oE -- '^  -[A-Za-z],' | tr -d ' ,'); do
		grep -qE -- "^\\.It Fl ${opt#-}( |$)" "$top/man/connectd.8" || missing+=("$opt")
	done
	echo "missing: ${missing[*]}"
	((${#missing[@]} == 0))
}

@test "man page: SYNOPSIS renders as the usage line" {
	command -v mandoc >/dev/null || skip "mandoc not installed"
	local usage synopsis
	# Words only: the two wrap their lines in different places.
	usage=$("$CONNECTD" --help | sed -n '1,/^$/p' | sed 's/^usage: //' | xargs)
	# sed drops the backspace overstrikes of bold and underline
	synopsis=$(mandoc -Tascii "$top/man/connectd.8" | sed 's/.\x08//g' |
		sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | xargs)
	echo "usage:    $usage"
	echo "synopsis: $synopsis"
	[[ $synopsis == "$usage" ]]
}

@test "README: every option of --help is in the options table" {
	local opt missing=()
	for opt in $(help_options); do
		grep -qF -- "\`$opt" "$top/README.md" || missing+=("$opt")
	done
	echo "missing: ${missing[*]}"
	((${#missing[@]} == 0))
}

@test "source is clang-formatted (make lint)" {
	command -v clang-format >/dev/null || skip "clang-format not installed"
	cd "$top"
	run clang-format --dry-run -Werror ./*.c ./*.h tests/unit/*.c tests/tools/*.c \
		fuzz/*.c bench/*.c
	echo "$output"
	[ "$status" -eq 0 ]
}
