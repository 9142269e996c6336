/** Names a scaffold derives from the service name the user gave. */
export interface ServiceNames {
  /** As registered and called: `inventory`, `order_history`. */
  service: string;
  /** The class: `Inventory`, `OrderHistory`. */
  className: string;
}

const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function serviceNames(name: string): ServiceNames {
  if (!SERVICE_NAME.test(name)) throw new Error(`service name "${name}" must be a letter then letters, digits, _ or - (64 at most)`);
  const className = name
    .split(/[_-]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
  return { service: name, className: /^[A-Za-z]/.test(className) ? className : `Service${className}` };
}
