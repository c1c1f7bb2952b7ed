// Package install checks the README's Linux install steps (on Linux): it
// runs the block the README marks with "install:linux" in a scratch root
// (every absolute path of the block moved under it, no sudo, no users, no
// systemd), then starts the installed binary on the installed config and
// checks that it comes up on the sandbox and answers the operator verbs;
// and it runs systemd-analyze verify on the shipped unit when the tool is
// there. The README is the single source: change the steps there.
package install
