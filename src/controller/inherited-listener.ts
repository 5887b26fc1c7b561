// A listening socket the controller did not open itself, so that it outlives the controller:
//   - systemd socket activation: LISTEN_FDS / LISTEN_PID (sd_listen_fds(3)), the socket at fd 3;
//   - a handover from the previous controller (`ten upgrade`): TENEMENT_LISTEN_FD.
// While any process holds such a socket, connections queue in its backlog instead of being
// refused, which is what makes a controller restart invisible to clients.

export const SD_LISTEN_FDS_START = 3;
export const HANDOVER_FD_ENV = 'TENEMENT_LISTEN_FD';
export const HANDOVER_FROM_ENV = 'TENEMENT_HANDOVER_FROM';

export interface InheritedListener {
  fd: number;
  source: 'systemd' | 'handover';
  /** Every inherited descriptor: no process the controller starts may keep them open (ControllerOptions.noInherit). */
  fds: number[];
}

/**
 * Takes the inherited listener from the environment and removes the variables, so tenants
 * spawned later do not believe they are socket-activated themselves.
 */
export function takeInheritedListener(env: NodeJS.ProcessEnv = process.env, pid = process.pid): InheritedListener | undefined {
  const handover = env[HANDOVER_FD_ENV];
  if (handover !== undefined) {
    delete env[HANDOVER_FD_ENV];
    const fd = Number(handover);
    if (!Number.isInteger(fd) || fd < 3) throw new Error(`${HANDOVER_FD_ENV}=${handover} is not a file descriptor number >= 3`);
    return { fd, source: 'handover', fds: [fd] };
  }
  const count = env.LISTEN_FDS;
  const forPid = env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (count === undefined) return undefined;
  if (forPid !== undefined && Number(forPid) !== pid) return undefined; // meant for another process
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1) return undefined;
  const fds = Array.from({ length: n }, (_, i) => SD_LISTEN_FDS_START + i);
  return { fd: SD_LISTEN_FDS_START, source: 'systemd', fds };
}
