use vigil_sigma as _;
