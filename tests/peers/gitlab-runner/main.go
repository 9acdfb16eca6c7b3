// Command gitlab-runner is upstream gitlab-runner's main package, trimmed to what the
// phaedo-executor tests need: the custom executor, the job-running commands and the
// in-job helper commands (artifacts, cache).
//
// Why not build upstream's main package directly: the Go module proxy reachable from CI
// hosts does not serve several gitlab.com modules upstream's main pulls in (fleeting,
// taskscaler, nesting, labkit/v2, moa, step-runner, phrasestream, runner_wrapper/api).
// Left out: every executor but custom (the shell executor drags in the CI Steps server),
// the cloud cache adapters, the secret resolvers, and helpers/cli (it imports the
// `steps` command only for its name). The remaining packages still import a few symbols
// of the missing modules, which ./stubs provides (see README.md).
//
// Everything below mirrors upstream main.go at the pinned commit, minus the removed parts.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"

	"gitlab.com/gitlab-org/gitlab-runner/commands"
	"gitlab.com/gitlab-org/gitlab-runner/commands/helpers"
	"gitlab.com/gitlab-org/gitlab-runner/common"
	"gitlab.com/gitlab-org/gitlab-runner/executors"
	"gitlab.com/gitlab-org/gitlab-runner/executors/custom"
	"gitlab.com/gitlab-org/gitlab-runner/log"
	"gitlab.com/gitlab-org/gitlab-runner/network"
	"gitlab.com/gitlab-org/gitlab-runner/router"

	_ "gitlab.com/gitlab-org/gitlab-runner/shells"
)

func main() {
	defer func() {
		if r := recover(); r != nil {
			// Upstream: a logrus panic entry means "log and exit".
			if _, ok := r.(*logrus.Entry); ok {
				os.Exit(1)
			}
			panic(r)
		}
	}()

	executorProviders := newExecutorProviders()
	for name, provider := range executorProviders.All() {
		if err := common.ValidateExecutorProvider(provider); err != nil {
			panic(fmt.Sprintf("Executor %s cannot be registered: %v", name, err))
		}
	}

	gitLabClient, clientShutdown, apiRequestsCollector := newClient(executorProviders)
	defer clientShutdown()

	app := cli.NewApp()
	app.Name = filepath.Base(os.Args[0])
	app.Usage = "a GitLab Runner (phaedo test build: custom and shell executors only)"
	app.Version = common.AppVersion.ShortLine()
	cli.VersionPrinter = common.AppVersion.Printer
	app.Commands = newCommands(gitLabClient, apiRequestsCollector, executorProviders)
	app.CommandNotFound = func(_ *cli.Context, command string) {
		logrus.Fatalln("Command", command, "not found.")
	}

	logRuntimePlatform(app)
	log.ConfigureLogging(app)

	if err := app.Run(os.Args); err != nil {
		logrus.Fatal(err)
	}
}

// logRuntimePlatform is helpers/cli.LogRuntimePlatform without its `steps` import: the
// "Runtime platform" line tells which runner build a test log came from.
func logRuntimePlatform(app *cli.App) {
	app.Before = func(*cli.Context) error {
		logrus.WithFields(logrus.Fields{
			"os":       runtime.GOOS,
			"arch":     runtime.GOARCH,
			"version":  common.AppVersion.Version,
			"revision": common.AppVersion.Revision,
			"pid":      os.Getpid(),
		}).Info("Runtime platform")
		return nil
	}
}

func newCommands(n common.Network, apiRequestsCollector *network.APIRequestsCollector, executorProviders executors.Providers) []cli.Command {
	return []cli.Command{
		commands.NewListCommand(),
		commands.NewRunCommand(n, apiRequestsCollector, executorProviders),
		commands.NewRunSingleCommand(n, executorProviders),
		commands.NewVerifyCommand(n),
		// The generated job scripts call these as `gitlab-runner <cmd>` when the job has
		// artifacts or cache; a test can put this binary on the job's PATH.
		helpers.NewArtifactsDownloaderCommand(),
		helpers.NewArtifactsUploaderCommand(),
		helpers.NewCacheArchiverCommand(),
		helpers.NewCacheExtractorCommand(),
		helpers.NewCacheInitCommand(),
	}
}

func newClient(executorProviders executors.Providers) (common.Network, func(), *network.APIRequestsCollector) {
	apiRequestsCollector := network.NewAPIRequestsCollector()
	certDir := commands.GetDefaultCertificateDirectory()

	mainClient := network.NewGitLabClient(
		network.WithAPIRequestsCollector(apiRequestsCollector),
		network.WithCertificateDirectory(certDir),
		network.WithExecutorProviderFunc(executorProviders.GetByName),
	)
	rc := router.NewClient(mainClient, certDir, common.AppVersion.UserAgent())
	return rc, rc.Shutdown, apiRequestsCollector
}

func newExecutorProviders() *executors.ProviderRegistry {
	return executors.NewProviderRegistry(map[string]common.ExecutorProvider{
		// The argument is the helper binary name the generated scripts call.
		"custom": custom.NewProvider("gitlab-runner"),
	})
}
