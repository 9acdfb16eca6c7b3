// Command etcd is upstream etcd's main (go.etcd.io/etcd/v3 main.go), built from the
// go.etcd.io/etcd/server/v3 module: the root module's go.mod points its siblings at ../
// with replace directives, so it cannot be built from the module proxy directly.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
