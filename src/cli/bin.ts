/**
 * Where the build puts the commands as single CommonJS files (tools/bundle.mjs): what package.json's
 * bin names, and what `famfs mount` starts as its daemon. One file per command, because Node loads
 * each ES module separately and its ES module loader is a measurable part of every process start
 * (bench/README.md, "`famfs creat` per CLI process").
 */
export const BIN_DIR = 'dist/bin';
