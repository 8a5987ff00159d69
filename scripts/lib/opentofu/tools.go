// Blank import pins github.com/opentofu/opentofu/cmd/tofu into this module's build list.
// The "tools" build tag keeps this file out of every real build.

//go:build tools

package tofubuild

import _ "github.com/opentofu/opentofu/cmd/tofu"
