// Blank import pins github.com/docker/compose/v5/cmd into this module's build list.
// The "tools" build tag keeps this file out of every real build.

//go:build tools

package composebuild

import _ "github.com/docker/compose/v5/cmd"
