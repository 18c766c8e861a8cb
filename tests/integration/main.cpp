// The integration tests' main (doctest). The tests start the server binary given by
// $EVCHAT_BIN (default build/evchat) and, for comparisons, the Go reference $GOCHAT_BIN.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
