// Per test file: the Temporal runtime logs only errors, so expected retries in tests do not flood the output.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });
