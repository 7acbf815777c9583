# Sourced by tools/test and tools/demo: apt_keep_cache DIR makes this
# shell's apt (APT_CONFIG) keep its package cache in DIR.
# ramdisk/build calls apt-cache about 200 times per image, even when the
# image is current.  Where /etc/apt/apt.conf.d turns apt's package cache
# off (Debian's Docker images: Dir::Cache::pkgcache ""), every call parses
# the package lists anew, ~0.7 s of CPU; with a cache, ~0.2 s.  So apt
# reads the same parts and then one more that keeps a cache in DIR (apt
# rebuilds it there when the lists change).
apt_keep_cache() {	# DIR
	local dir=$1 parts="$1/apt.conf.d" f
	rm -rf "$parts"
	mkdir -p "$parts"
	for f in /etc/apt/apt.conf.d/*; do
		[ -e "$f" ] && ln -s "$f" "$parts/"
	done
	printf 'Dir::Cache::pkgcache "%s";\nDir::Cache::srcpkgcache "%s";\n' \
	    "$dir/pkgcache.bin" "$dir/srcpkgcache.bin" \
	    >"$parts/zzzz-tools-test-cache"
	printf 'Dir::Etc::parts "%s";\n' "$parts" >"$dir/apt.conf"
	export APT_CONFIG="$dir/apt.conf"
}
