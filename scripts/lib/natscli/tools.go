// Blank import pins github.com/nats-io/natscli/nats into this module's build list.
// The "tools" build tag keeps this file out of every real build.

//go:build tools

package natsclibuild

import _ "github.com/nats-io/natscli/nats"
