// electron-builder hooks (electron-builder.yml `beforeBuild`). CommonJS so any Node
// that runs electron-builder can load it.
//
// beforeBuild → false: "node_modules are handled outside electron-builder". The app
// (dist/) needs none — dist/electron/main.cjs bundles the core and its dependencies —
// so electron-builder then neither installs/rebuilds nor copies dependencies. Without
// this, electron-builder 26 falls back from dist/ (no dependencies) to the project
// root and packs all of the root's production node_modules beside the bundle.
exports.beforeBuild = async () => false;
