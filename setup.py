"""nova_console: OpenStack Nova's remote-console subsystem as message-bus services."""
import glob

from setuptools import find_packages, setup

setup(
    name="nova_console",
    version="0.1.0",
    description=("Remote consoles (noVNC, ...) for virtual machines, Nova-compatible, "
                 "over oslo.messaging"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",  # an SPDX expression (license classifiers are deprecated)
    python_requires=">=3.10",
    packages=find_packages(exclude=["tests", "tests.*"]),
    include_package_data=True,
    # For packagers and operators: the systemd units and the generated samples, under
    # <prefix>/share/nova_console (see README, "Packaged install").
    data_files=[
        ("share/nova_console/systemd", sorted(glob.glob("etc/systemd/*.service"))),
        ("share/nova_console/etc", ["etc/nova_console/nova_console.conf.sample",
                                    "etc/nova_console/policy.yaml.sample"]),
    ],
    package_data={
        "nova_console.db": ["migrations/*.ini", "migrations/*.py", "migrations/versions/*.py"],
        "nova_console.compute.drivers.guest": ["*.asm"],
    },
    install_requires=[
        "oslo.config>=9.0,<11",
        "oslo.context>=5.0,<7",
        "oslo.log>=5.0,<9",
        "oslo.messaging>=14.0,<19",
        "oslo.middleware>=6.0,<9",
        "oslo.policy>=4.0,<7",
        "oslo.serialization>=5.0,<6",
        "oslo.service>=4.0,<5",
        "stevedore>=3.0",
        "oslo.utils>=6.0,<11",
        "eventlet>=0.35,<0.42",
        "websockify>=0.11,<0.14",
        "SQLAlchemy>=2.0,<2.2",
        "alembic>=1.10,<2",
        "WebOb>=1.8,<2",
        "numpy>=1.26,<3",
        "jsonschema>=4.0,<5",
    ],
    extras_require={
        "postgresql": ["psycopg[binary]>=3.1,<4"],
        "mysql": ["PyMySQL>=1.0,<2"],
        "libvirt": ["libvirt-python>=9.0,<13"],
        "test": [
            "pytest>=8,<10",
            "selenium>=4.15,<5",
            "python-novaclient>=18,<19",
            "keystoneauth1>=5,<6",
            "psycopg[binary]>=3.1,<4",
            "PyMySQL>=1.0,<2",
            "requests>=2.28,<3",
            "tempest>=40",
            "vncdotool>=1.2,<2",
            "python-openstackclient>=7",
        ],
    },
    entry_points={
        "console_scripts": [
            "nova-console-api = nova_console.cmd.api:main",
            "nova-console-compute = nova_console.cmd.compute:main",
            "nova-consoleauth = nova_console.cmd.consoleauth:main",
            "nova-novncproxy = nova_console.cmd.proxies:novncproxy",
            "nova-xvpvncproxy = nova_console.cmd.proxies:xvpvncproxy",
            "nova-spicehtml5proxy = nova_console.cmd.proxies:spicehtml5proxy",
            "nova-serialproxy = nova_console.cmd.proxies:serialproxy",
            "nova-console-all-in-one = nova_console.cmd.all_in_one:main",
            "nova-console-manage = nova_console.cmd.manage:main",
        ],
        "oslo.config.opts": [
            "nova_console.conf = nova_console.conf.opts:list_opts",
        ],
        "oslo.config.opts.defaults": [
            "nova_console.conf = nova_console.service:set_service_defaults",
        ],
        "oslo.policy.policies": [
            "nova_console = nova_console.api.policies:list_rules",
        ],
        "oslo.policy.enforcer": [
            "nova_console = nova_console.config:policy_enforcer",
        ],
        "oslo.middleware.healthcheck": [
            "nova_console_message_bus = nova_console.health:MessageBusHealthcheck",
            "nova_console_database = nova_console.health:DatabaseHealthcheck",
        ],
        "nova_console.compute.drivers": [
            "fake = nova_console.compute.drivers.fake:FakeDriver",
            "qemu = nova_console.compute.drivers.qemu:QemuDriver",
            "static = nova_console.compute.drivers.static:StaticConsoleDriver",
            "libvirt = nova_console.compute.drivers.libvirt:LibvirtDriver",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Environment :: OpenStack",
    ],
)
