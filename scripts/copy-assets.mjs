// tsc compiles the TypeScript; the generated protobuf module is plain JS and is copied beside it.
import { cpSync, mkdirSync } from 'node:fs';

mkdirSync('dist/proto/generated', { recursive: true });
cpSync('proto/generated/jinyun.js', 'dist/proto/generated/jinyun.js');
