// The sample clips of the shared harness (scripts/harness/clips.ts), written under the test run's temporary folder.
import { useClipFolder } from '../../scripts/harness/clips';
import { testEnv } from './env';

useClipFolder(() => testEnv.tmpDir);

export * from '../../scripts/harness/clips';
export * from '../../scripts/harness/cameoClips';
