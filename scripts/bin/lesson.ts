// `npm run lesson` starts here, through tsx's require() hook like
// scripts/bin/check.ts (the faster start). The command is scripts/lesson.ts.
const { cli } = require('../lesson.ts') as typeof import('../lesson.ts');

void cli();
