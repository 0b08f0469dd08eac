// Package deploytest checks what ships beside the code against the code:
// the Slack app manifest (manifest.yml) against the Web API methods and
// events the bot uses, the Dockerfile's Go build, and the Helm chart in
// deploy/ rendered with helm and applied to a real kube-apiserver.
//
// It holds only tests; this file exists so that the directory is a
// package.
package deploytest
