// The product's entry points as child processes: the shared harness's (scripts/harness/processes.ts).
export * from '../../scripts/harness/processes';
