// Preloaded (node --require) into the test process when the installed package is under test with
// coverage on: the process still writes its own counts (node read NODE_V8_COVERAGE as it started),
// but the processes it starts, which run the package's bundle, are not asked to.
delete process.env.NODE_V8_COVERAGE;
