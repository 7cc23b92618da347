// `npm run check` starts here. This folder is CommonJS (see its package.json),
// so Node loads this file through tsx's require() hook, which starts about
// 0.1 s sooner than tsx's ES module loader: a check's verdict should come
// within half a second. The command itself is scripts/check.ts.
const { cli } = require('../check.ts') as typeof import('../check.ts');

cli();
