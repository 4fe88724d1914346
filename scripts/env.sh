# Sourced by ./vmsnap and ./vmsnap-test: finds a JDK 25 and Maven, or explains why not.
# Sets VMSNAP_JAVA_HOME and VMSNAP_MVN. Returns non-zero with one line on stderr on failure.

vmsnap_is_jdk25() {
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 1
  # The JDK's release file names its version: reading it costs nothing, while
  # "java -version" would start a JVM before every command.
  # Read by the shell itself: ./vmsnap forks nothing on its common path.
  if [ -f "$1/release" ]; then
    local line
    while IFS= read -r line || [ -n "$line" ]; do
      case $line in JAVA_VERSION=\"25\"|JAVA_VERSION=\"25.*) return 0 ;; esac
    done < "$1/release"
    return 1
  else
    "$1/bin/java" -version 2>&1 | head -n 1 | grep -qE 'version "25(\.|")'
  fi
}

vmsnap_find_jdk() {
  local candidate
  if [ -n "${JAVA_HOME:-}" ] && vmsnap_is_jdk25 "$JAVA_HOME"; then
    VMSNAP_JAVA_HOME=$JAVA_HOME; return 0
  fi
  for candidate in /usr/lib/jvm/*25*; do
    if vmsnap_is_jdk25 "$candidate"; then VMSNAP_JAVA_HOME=$candidate; return 0; fi
  done
  echo "vmsnap: no JDK 25 found (looked at \$JAVA_HOME and /usr/lib/jvm/*25*); install one, e.g. Temurin 25" >&2
  return 1
}

vmsnap_find_mvn() {
  VMSNAP_MVN=$(command -v mvn) || {
    echo "vmsnap: Maven (mvn) is not on PATH; install it (Debian: apt-get install maven)" >&2
    return 1
  }
}
