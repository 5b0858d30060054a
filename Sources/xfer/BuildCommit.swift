// scripts/install.sh overwrites this file with the commit it builds, and puts it back
// afterwards: SwiftPM has no way to pass a string into a build without a plugin or
// unsafeFlags. A plain `swift build` keeps the nil below.

/// The git commit this binary was built from, when scripts/install.sh built it.
let buildCommit: String? = nil
